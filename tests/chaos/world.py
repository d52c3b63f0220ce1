"""The chaos runs' world: signing keys, a manifests repository with a fleet policy, a real
controller (`patchwave serve`) with its managed HAProxy and local servers, and a client
of its API. Everything lives in one temporary directory; the servers' directory is a
small tmpfs when the run may fill the disk.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "..", "examples", "demo-service", "demo_service.py")
# The region's name picks its loopback addresses (127.R.0.x, R from a hash of the name):
# "ch" (R = 51) for scripts/chaos, "cz" (R = 19) for the short form in ctest, so the two
# can run at once and neither meets another test's servers.
DEFAULT_REGION = "ch"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    def __init__(self, patchwave, agent, work, padding_mib, tmpfs_mib, region=DEFAULT_REGION):
        self.pw_bin, self.agent_bin, self.work = patchwave, agent, work
        self.region = region
        self.padding_mib, self.tmpfs_mib = padding_mib, tmpfs_mib
        self.state = os.path.join(work, "state")
        self.servers_dir = os.path.join(work, "servers")
        self.controller = None
        self.log = open(os.path.join(work, "controller.log"), "ab")
        self.version = 0
        self.mounted = False
        self.env = dict(os.environ, GIT_AUTHOR_NAME="chaos", GIT_AUTHOR_EMAIL="c@example.invalid",
                        GIT_COMMITTER_NAME="chaos", GIT_COMMITTER_EMAIL="c@example.invalid")

    # --- commands -------------------------------------------------------------------------
    def pw(self, *args, check=True):
        run = subprocess.run([self.pw_bin, *args], cwd=self.work, env=self.env,
                             capture_output=True, text=True)
        if check and run.returncode != 0:
            raise RuntimeError("patchwave %s: exit %d: %s" % (" ".join(args), run.returncode,
                                                              run.stderr.strip()[-800:]))
        return run

    def set_up(self, proxy_port):
        os.makedirs(os.path.join(self.work, "keys"))
        os.makedirs(self.servers_dir)
        if self.tmpfs_mib:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % self.tmpfs_mib, "tmpfs",
                            self.servers_dir], check=True)
            self.mounted = True
        for k in ("root", "alice", "bob", "carol", "online"):
            self.pw("key", "generate", "--out", "keys/" + k)
        repo = os.path.join(self.work, "repo")
        self.pw("repo", "init", repo, "--root-key", "keys/root.pub", "--targets-key",
                "keys/alice.pub", "--targets-key", "keys/bob.pub", "--targets-key",
                "keys/carol.pub", "--targets-threshold", "2", "--snapshot-key", "keys/online.pub",
                "--timestamp-key", "keys/online.pub")
        for k in ("root", "alice", "bob"):
            self.pw("release", "sign", repo, "--key", "keys/" + k)
        self.publish()
        self.front = free_port()
        self.cport = free_port()
        approver = open(os.path.join(self.work, "keys/alice.pub")).read().strip()
        with open(os.path.join(self.work, "fleet.yaml"), "w") as f:
            f.write("""version: 1
defaults:
  servers: 2
  canary_steps: [50, 100]
  health_successes: 2
  step_wait: 2s
  bake_time: 1s
  failure_policy: halt
  max_error_rate: 1.0
regions:
  - {name: %s, wave: 1, provider: {kind: local}, backend: app_%s,
     approvers: {threshold: 0, keys: [%s]}}
""" % (self.region, self.region, approver))
        self.pw("release", "add", repo, "fleet.yaml", "--name", "fleet/policy.yaml")
        agent_url = "\nagent_url: https://127.0.0.1:%d" % proxy_port if proxy_port else ""
        with open(os.path.join(self.work, "controller.yaml"), "w") as f:
            f.write("""state_dir: {w}/state
listen: 127.0.0.1:{c}{agent_url}
manifests: {{repository: {w}/repo@HEAD, root: {w}/repo/metadata/1.root.json, sync_interval: 1h}}
audit: {{checkpoint_interval: 1h}}
agent_binary: {agent}
servers_dir: {servers}
traffic:
  frontends: {{{region}: 127.0.0.1:{front}}}
rollout: {{provision_timeout: 30s, stage_timeout: 30s, health_timeout: 15s, min_requests: 10,
          inconclusive_grace: 20s}}
""".format(w=self.work, c=self.cport, agent_url=agent_url, agent=self.agent_bin,
           servers=self.servers_dir, region=self.region, front=self.front))
        self.release()  # the first version, rolled out before any fault
        self.start_controller()
        self.pw("ca", "issue-operator", "--dir", "state/ca", "--name", "rita", "--role",
                "release-engineer", "--out", "rita")
        ctx = ssl.create_default_context(cafile=os.path.join(self.state, "ca/ca.pem"))
        ctx.check_hostname = False
        ctx.load_cert_chain(os.path.join(self.work, "rita.crt"), os.path.join(self.work, "rita.key"))
        self.tls = ctx

    def publish(self):
        self.pw("release", "publish", "repo", "--snapshot-key", "keys/online", "--timestamp-key",
                "keys/online")

    def release(self):
        """The next version of the demo service, signed and published; returns it."""
        self.version += 1
        version = "1.0.%d" % self.version
        src = os.path.join(self.work, "src-" + version)
        os.makedirs(os.path.join(src, "bin"))
        shutil.copy(DEMO, os.path.join(src, "bin"))
        with open(os.path.join(src, "bin/demo-service"), "w") as f:
            f.write('#!/bin/sh\nexec python3 "$(dirname "$0")/demo_service.py" "$@"\n')
        os.chmod(os.path.join(src, "bin/demo-service"), 0o755)
        if self.padding_mib:  # incompressible, so the download takes long enough to cut
            with open(os.path.join(src, "padding.bin"), "wb") as f:
                f.write(os.urandom(self.padding_mib << 20))
        os.makedirs(os.path.join(self.work, "dist"), exist_ok=True)
        tarball = "dist/demo-%s.tar.gz" % version
        subprocess.run(["tar", "-czf", tarball, "-C", src, "."], cwd=self.work, check=True)
        shutil.rmtree(src)
        self.pw("release", "add", "repo", tarball, "--app", "demo-service", "--version", version,
                "--run", "bin/demo-service --host {host} --port {port}", "--env", "DEMO_MODE=ok",
                "--health", "http:18080/healthz", "--health-successes", "1",
                "--health-interval", "1s")
        self.pw("release", "sign", "repo", "--key", "keys/alice")
        self.pw("release", "sign", "repo", "--key", "keys/carol")
        self.publish()
        os.unlink(os.path.join(self.work, tarball))
        return version

    # --- the controller -------------------------------------------------------------------
    def start_controller(self):
        before = self.log_count('"event":"synced"')
        self.controller = subprocess.Popen(
            [self.pw_bin, "serve", "--config", "controller.yaml", "--log-format", "json"],
            cwd=self.work, env=self.env, stderr=self.log, stdout=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.log_count('"event":"synced"') > before:
                return
            if self.controller.poll() is not None:
                raise RuntimeError("the controller exited with %d" % self.controller.returncode)
            time.sleep(0.05)
        raise RuntimeError("the controller did not sync within 60 s")

    def kill_controller(self):
        self.controller.send_signal(signal.SIGKILL)
        self.controller.wait()

    def log_count(self, text):
        self.log.flush()
        with open(os.path.join(self.work, "controller.log"), "rb") as f:
            return f.read().count(text.encode())

    # --- the API --------------------------------------------------------------------------
    def api(self, method, path, body=None, timeout=10):
        conn = http.client.HTTPSConnection("127.0.0.1", self.cport, context=self.tls,
                                           timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            response = conn.getresponse()
            text = response.read()
            return response.status, (json.loads(text) if text else {})
        finally:
            conn.close()

    def sync(self):
        status, body = self.api("POST", "/v1/sync", {})
        if status != 200:
            raise RuntimeError("sync: HTTP %d %s" % (status, body))

    def start_rollout(self, version):
        status, body = self.api("POST", "/v1/rollouts", {"app": "demo-service", "version": version})
        if status != 201:
            raise RuntimeError("rollout start: HTTP %d %s" % (status, body))
        return body["id"]

    def rollout(self, rid):
        try:
            status, body = self.api("GET", "/v1/rollouts/" + rid, timeout=3)
        except (OSError, http.client.HTTPException):
            return None  # the controller is down (killed) or busy: try again
        return body if status == 200 else None

    def servers(self):
        status, body = self.api("GET", "/v1/servers")
        if status != 200:
            raise RuntimeError("servers: HTTP %d" % status)
        return body["servers"]

    def audit_events(self):
        run = self.pw("audit", "export", "--db", "state/store.db", "--output", "jsonl")
        return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]

    def audit_verify(self):
        run = self.pw("audit", "verify", "--db", "state/store.db", check=False)
        return run.returncode == 0, (run.stdout + run.stderr).strip()[-300:]

    def haproxy_pid(self):
        try:
            return int(open(os.path.join(self.state, "haproxy/haproxy.pid")).read())
        except (OSError, ValueError):
            return None

    def tear_down(self, keep):
        if self.controller and self.controller.poll() is None:
            self.controller.terminate()
            try:
                self.controller.wait(20)
            except subprocess.TimeoutExpired:
                self.controller.kill()
        pid = self.haproxy_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pattern in ("patchwave-agent run --config " + self.work,
                        self.servers_dir + "/.*demo_service.py"):
            subprocess.run(["pkill", "-9", "-f", pattern], check=False)
        time.sleep(0.3)
        if keep:
            print("chaos: kept %s (umount %s when done)" % (self.work, self.servers_dir)
                  if self.mounted else "chaos: kept " + self.work)
            return
        if self.mounted:
            subprocess.run(["umount", "-l", self.servers_dir], check=False)
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)
