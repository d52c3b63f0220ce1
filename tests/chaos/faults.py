"""The faults a chaos run injects. Each names the phases of the region it may strike in
(one is drawn at random, then a random delay within it), the outcomes the fleet policy
allows afterwards, and how to inject and undo it.

The policy's answer to a fault: anything that breaks the new servers before the
rollout has decided (an agent killed or frozen, a corrupted artifact) must roll the
region back; faults of the machinery around them (the controller, HAProxy, the
download's connection) must not change the outcome; a service killed or a full disk
may be survived (the agent restarts the service; staging may be done already) or
rolled back, but a rollback must then name what failed.
"""

import os
import random
import signal
import subprocess
import time

from watchers import fill_disk

JUDGED = ["provisioning", "staging", "verifying", "shifting", "baking"]


def fresh_names(run):
    region = run.watch.region() or {}
    return [s["name"] if isinstance(s, dict) else s for s in region.get("fresh", [])]


def wait_pid(path, timeout=20):
    deadline = time.time() + timeout
    while True:
        try:
            pid = int(open(path).read())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            if time.time() >= deadline:
                return None
            time.sleep(0.02)


def a_fresh_server(run, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        names = fresh_names(run)
        if names:
            return random.choice(names)
        time.sleep(0.02)
    return None


def service_pids(world, name):
    found = subprocess.run(["pgrep", "-f", "%s/%s/.*demo_service.py" % (world.servers_dir, name)],
                           capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


class Fault:
    name = ""
    phases = JUDGED
    outcomes = ("succeeded",)
    reason_names = ()  # a rollback's reason must contain one of these (empty: the target)

    def prepare(self, run):
        """Before the rollout starts."""

    def inject(self, run):
        """Returns what was done, or None when the target never appeared."""
        raise NotImplementedError

    def undo(self, run):
        """After the rollout ended."""


class ControllerKill(Fault):
    name = "controller kill -9, restart"
    phases = JUDGED + ["finalizing"]

    def inject(self, run):
        run.world.kill_controller()
        time.sleep(random.uniform(0, 2))
        run.world.start_controller()
        return "killed; restarted"


def signal_fresh_agent(run, sig):
    """Sends `sig` to the agent of one of the rollout's new servers; returns its pid."""
    server = a_fresh_server(run)
    pid = server and wait_pid(os.path.join(run.world.servers_dir, server, "agent.pid"))
    if not pid:
        return None
    os.kill(pid, sig)
    run.target = server
    return pid


class AgentKill(Fault):
    name = "agent kill -9"
    outcomes = ("rolled_back",)

    def inject(self, run):
        if not signal_fresh_agent(run, signal.SIGKILL):
            return None
        return "agent of " + run.target


class ServiceKill(Fault):
    name = "service kill -9"
    phases = ["verifying", "shifting", "baking"]
    outcomes = ("succeeded", "rolled_back")

    def inject(self, run):
        server = a_fresh_server(run)
        deadline = time.time() + 20
        while server and time.time() < deadline:
            pids = service_pids(run.world, server)
            if pids:
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                run.target = server
                return "service of " + server
            time.sleep(0.02)
        return None


class HaproxyKill(Fault):
    name = "HAProxy kill -9 (the controller restarts it)"
    phases = ["verifying", "shifting", "baking", "finalizing"]

    def inject(self, run):
        pid = run.world.haproxy_pid()
        if not pid:
            return None
        os.kill(pid, signal.SIGKILL)
        return "HAProxy pid %d" % pid


class AgentFreeze(Fault):
    name = "agent stops answering (SIGSTOP)"
    outcomes = ("rolled_back",)

    def inject(self, run):
        run.frozen = signal_fresh_agent(run, signal.SIGSTOP)
        if not run.frozen:
            return None
        return "agent of %s frozen" % run.target

    def undo(self, run):
        if getattr(run, "frozen", None):
            try:
                os.kill(run.frozen, signal.SIGCONT)
            except OSError:
                pass  # decommissioned: killed while stopped


class DiskFull(Fault):
    name = "full disk under the agents (tmpfs)"
    phases = ["provisioning", "staging"]
    outcomes = ("succeeded", "rolled_back")
    # An agent that cannot write its state gives up: it is then seen as not enrolling or
    # not staging in time.
    reason_names = ("space", "staging failed", "provisioning failed", "did not enroll",
                    "did not stage", "did not start")

    def inject(self, run):
        run.filler = fill_disk(run.world.servers_dir)
        return "filled"

    def undo(self, run):
        if getattr(run, "filler", None):
            os.unlink(run.filler)


class DownloadCut(Fault):
    name = "download cut mid-way (connection closed mid-body)"
    phases = ["provisioning"]

    def inject(self, run):
        size = run.world.padding_mib << 20
        run.world.proxy.arm(random.randint(size // 10, size * 9 // 10))
        run.cuts_before = run.world.proxy.cuts
        return "armed"

    def check(self, run):
        """The cut happened and an agent resumed the download from where it stopped."""
        if run.world.proxy.cuts <= run.cuts_before:
            return "no download was cut"
        logs = subprocess.run(["grep", "-l", "download_resuming", "-r", run.world.servers_dir,
                               "--include=agent.log"], capture_output=True, text=True)
        if not logs.stdout.strip():
            return "no agent says it resumed the download"
        return None


class ArtifactCorrupt(Fault):
    name = "artifact corrupted on the controller's disk after verification"
    phases = ["provisioning"]
    outcomes = ("rolled_back",)
    reason_names = ("sha256", "staging failed")

    def inject(self, run):
        path = os.path.join(run.world.state, "artifacts", run.sha256)
        with open(path, "r+b") as f:
            f.seek(random.randrange(os.path.getsize(path)))
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x5A]))
        return "one byte flipped"


ALL = {
    "controller-kill": ControllerKill,
    "agent-kill": AgentKill,
    "service-kill": ServiceKill,
    "haproxy-kill": HaproxyKill,
    "agent-freeze": AgentFreeze,
    "disk-full": DiskFull,
    "download-cut": DownloadCut,
    "artifact-corrupt": ArtifactCorrupt,
}
