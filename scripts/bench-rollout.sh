# The `rollout` benchmark of scripts/bench, which sources this file and calls
# bench_rollout (it uses $root, $work, $PW, $AGENT, $quick, $results, median and the
# cleanup list `on_exit`). Set up as tests/integration/rollout_flow.sh: the real
# controller (`patchwave serve`) with a git manifests repository, local-provider agents on
# their own loopback addresses, the HAProxy the controller manages, and
# examples/demo-service/demo_service.py under load from tests/support/loadgen.py.
#
#  1. Rollback speed (goal: from the decision to 100 % of the traffic on the old servers
#     within 1 s). A good release on 2 servers, then a release whose new servers answer
#     5xx, under load: the canary analysis fails and the engine rolls back. Measured (a)
#     by the engine (audit event rollout.traffic_restored: decided_at_ms, restored_at_ms)
#     and (b) from outside, polling HAProxy's `show stat` on the admin socket every ~2 ms:
#     the first answer in which the new servers have weight 0 (or drain/maint, or are
#     gone) and the old ones weight > 0 again, minus decided_at_ms.
#  2. Controller overhead per server (goal: at most 10 ms per server, everything except the
#     service's own start time and the configured waits). The controller's CPU time
#     (utime + stime, /proc/PID/stat) during a first deployment and then replacements of
#     N servers in one region (the median of 3), divided by N; with a wall-clock and CPU
#     breakdown per region state (when the region's record in the store changed, polled
#     every 20 ms; the audit events carry whole seconds only) against the configured
#     waits. The goal's figure leaves out the local provider's own work (it makes the
#     "machines") and what the controller does during the configured waits (health checks
#     each interval, at the rate measured while the replacement baked).

# The region names are chosen so that the local provider's addresses (127.R.S.N, R a hash
# of the name) differ from those of the integration tests' regions (bw, by, nw, sc), which
# may run beside the benchmark; the service port differs from theirs (18080) too.
rb_region=rb ov_region=ov rb_service_port=18381

# rollout_helper: the python side (polling, waiting, figures), written once per run.
rollout_helper() {
  cat >"$1" <<'HELPER'
#!/usr/bin/env python3
"""Helpers of `scripts/bench rollout` (python3 standard library only), written out by
scripts/bench-rollout.sh.

    helper.py watch --db STORE --pid PID --out FILE --stop FILE
                           [--socket ADMIN_SOCKET --backend NAME --every-ms 2]
                           [--cpu-every-ms 50] [--db-every-ms 20]
        Until FILE --stop exists, writes JSON lines to --out: the backend's servers
        (weight, status) from HAProxy's `show stat` every --every-ms whenever they change,
        each rollout region's record (state, action, step, state_since, servers) from the
        store whenever it changes, and the controller's CPU time (utime + stime of
        /proc/PID/stat, clock ticks). Times are epoch milliseconds (time.time(), the
        clock the controller's audit events use).
    helper.py wait --db STORE --rollout ID --pid PID [--timeout 300]
        Waits until the rollout is no longer pending or running (or the controller PID has
        gone); prints its state.
    helper.py rollback --watch FILE --audit JSONL --rollout ID --region NAME
        The rollback figures of one run, as JSON.
    helper.py phases --watch FILE --audit JSONL --rollout ID --region NAME --steps 10,50,..
                            --clk-tck N --step-wait-ms MS --bake-ms MS
                            --health-interval-ms MS --successes N --startup-window-ms MS
        Wall clock and controller CPU per region state of one rollout, as JSON.
"""

import argparse
import json
import os
import socket
import sqlite3
import sys
import time

TERMINAL = ("succeeded", "rolled_back", "aborted", "partially_failed", "failed")


def now_ms():
    return time.time() * 1000.0


def show_stat(path, backend):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        s.sendall(b"show stat\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return None
    head = lines[0][2:].split(",")
    ix = {name: i for i, name in enumerate(head)}
    out = {}
    for line in lines[1:]:
        f = line.split(",")
        if len(f) < len(head) or f[ix["pxname"]] != backend:
            continue
        if f[ix["svname"]] in ("FRONTEND", "BACKEND"):
            continue
        w = f[ix["weight"]]
        out[f[ix["svname"]]] = [int(w) if w.isdigit() else 0, f[ix["status"]]]
    return out


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # fields 14 (utime) and 15 (stime)


def cpu_ns(pid):
    """CPU time of the process's live threads in ns (schedstat): precise where the
    clock ticks of /proc/PID/stat are 10 ms, but blind to threads that have exited,
    so it is only used over windows in which none exits (a region's bake)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def open_db(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5.0)


def watch(a):
    db = open_db(a.db)
    out = open(a.out, "w")
    last_stat = last_cpu = last_db = 0.0
    stat_prev = None
    db_prev = {}
    gaps, samples, prev_t, prev_t0 = [], 0, None, None
    deadline = time.monotonic() + a.timeout
    while not os.path.exists(a.stop) and time.monotonic() < deadline:
        t = now_ms()
        if a.socket and t - last_stat >= a.every_ms:
            last_stat = t
            try:
                snap = show_stat(a.socket, a.backend)
            except OSError:
                snap = None
            t_done = now_ms()
            if snap is not None:
                samples += 1
                if snap != stat_prev:
                    # HAProxy changed after it answered the previous request (sent at
                    # t0_prev) and before this answer was read (t).
                    out.write(json.dumps({"t": t_done, "t0_prev": prev_t0, "haproxy": snap}) + "\n")
                    stat_prev = snap
                if prev_t is not None:
                    gaps.append(t_done - prev_t)
                prev_t, prev_t0 = t_done, t
        if t - last_cpu >= a.cpu_every_ms:
            last_cpu = t
            try:
                out.write(json.dumps({"t": now_ms(), "cpu": cpu_ticks(a.pid),
                                      "cpu_ns": cpu_ns(a.pid)}) + "\n")
            except OSError:
                pass
        if t - last_db >= a.db_every_ms:
            last_db = t
            try:
                rows = db.execute("SELECT rollout_id, region, data FROM rollout_regions").fetchall()
            except sqlite3.Error:
                rows = []
            seen = now_ms()
            for rid, region, data in rows:
                d = json.loads(data)
                key = (rid, region)
                val = {"state": d["state"], "action": d.get("action", ""), "step": d.get("step"),
                       "state_since": d.get("state_since"),
                       "fresh": [s["name"] for s in d.get("fresh", [])],
                       "previous": [s["name"] for s in d.get("previous", [])]}
                if db_prev.get(key) != val:
                    db_prev[key] = val
                    out.write(json.dumps({"t": seen, "rollout": rid, "region": region, **val}) + "\n")
        time.sleep(max(0.0, a.every_ms / 1000.0 - (now_ms() - t) / 1000.0) if a.socket else 0.005)
    gaps.sort()
    out.write(json.dumps({"summary": {
        "stat_samples": samples,
        "stat_gap_median_ms": gaps[len(gaps) // 2] if gaps else None,
        "stat_gap_max_ms": gaps[-1] if gaps else None}}) + "\n")
    out.close()


def wait(a):
    db = open_db(a.db)
    deadline = time.monotonic() + a.timeout
    state = "missing"
    while time.monotonic() < deadline:
        if not os.path.exists("/proc/%d" % a.pid):
            state = "the controller (pid %d) has stopped" % a.pid
            break
        row = db.execute("SELECT state FROM rollouts WHERE id = ?", (a.rollout,)).fetchone()
        state = row[0] if row else "missing"
        if state in TERMINAL:
            break
        time.sleep(0.1)
    print(state)


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def audit_for(path, rollout):
    return [e for e in read_lines(path) if e.get("inputs", {}).get("rollout") == rollout]


def usable(entry):
    weight, status = entry
    return weight > 0 and not status.startswith(("MAINT", "DRAIN"))


def rollback(a):
    events = read_lines(a.watch)
    audit = audit_for(a.audit, a.rollout)
    restored = [e for e in audit if e["action"] == "rollout.traffic_restored"]
    if not restored:
        print(json.dumps({"error": "no rollout.traffic_restored event for " + a.rollout}))
        return 1
    inputs = restored[-1]["inputs"]
    decided, engine_restored = inputs["decided_at_ms"], inputs["restored_at_ms"]
    rows = [e for e in events if e.get("rollout") == a.rollout and e.get("region") == a.region]
    fresh = next((r["fresh"] for r in reversed(rows) if r["fresh"]), [])
    previous = next((r["previous"] for r in reversed(rows) if r["previous"]), [])
    reason = next((e["outcome"] for e in audit if e["action"] == "rollout.region"
                   and e["inputs"].get("to") == "rolling_back"), "")
    shifted_at = external = gone = None
    before = None  # the last sample before the restored one: the change happened between
    for e in (e for e in events if "haproxy" in e):
        snap = e["haproxy"]
        fresh_live = any(n in snap and usable(snap[n]) for n in fresh)
        if fresh_live and shifted_at is None:
            shifted_at = e["t"]
        if shifted_at is not None and external is None:
            if not fresh_live and previous and all(n in snap and usable(snap[n]) for n in previous):
                external = e["t"]
                before = e["t0_prev"]
        if external is not None and not any(n in snap for n in fresh):
            gone = e["t"]
            break
    summary = next((e["summary"] for e in events if "summary" in e), {})
    print(json.dumps({
        "rollout": a.rollout, "reason": reason, "fresh": fresh, "previous": previous,
        "decided_at_ms": decided, "engine_restored_at_ms": engine_restored,
        "engine_ms": engine_restored - decided,
        "external_ms": None if external is None else round(external - decided, 1),
        "external_lower_ms": None if before is None else round(before - decided, 1),
        "fresh_removed_ms": None if gone is None else round(gone - decided, 1),
        "shifted_at_ms": shifted_at, "poll": summary}))
    return 0


def phases(a):
    events = read_lines(a.watch)
    audit = audit_for(a.audit, a.rollout)
    rows = [e for e in events if e.get("rollout") == a.rollout and e.get("region") == a.region]
    cpu = [(e["t"], e["cpu"]) for e in events if "cpu" in e]
    # Phase boundaries: when the watcher first saw each state in the store (polled every
    # 20 ms), and inside staging when the action became "start" (the services start).
    # Not the engine's state_since: that is the start of the tick that made the change,
    # which can be seconds earlier than the change (lag below).
    steps = [int(x) for x in a.steps.split(",")]
    first_deployment = not any(r["previous"] for r in rows)
    if first_deployment:
        steps = [100]
    marks, lag = [], []  # (t, label); (label, ms between state_since and the record)
    for r in rows:
        label = r["state"]
        if r["state"] == "shifting":
            label = "shifting %d %%" % steps[min(r["step"], len(steps) - 1)]
        if r["state"] == "staging":
            label = "staging: download + unpack"
            if r["action"] == "start":
                label = "staging: starting services"
        if not marks or marks[-1][1] != label:
            marks.append((r["t"], label))
            if r["action"] == "" or r["state"] in ("succeeded", "rolled_back"):
                lag.append((label, round(r["t"] - r["state_since"])))
    transitions = [e for e in audit if e["action"] == "rollout.region"]
    seen = {r["state"] for r in rows}
    missed = sorted({e["inputs"].get("to") for e in transitions} - seen - {"awaiting_approval"})
    created = next((e for e in audit if e["action"] == "rollout.create"), None)

    def cpu_at(t):
        best = None
        for ts, ticks in cpu:
            if ts <= t:
                best = ticks
            else:
                break
        return best if best is not None else (cpu[0][1] if cpu else 0)

    cpu_precise = [(e["t"], e["cpu_ns"]) for e in events if "cpu_ns" in e]

    def ns_at(t):
        best = None
        for ts, ns in cpu_precise:
            if ts <= t:
                best = ns
            else:
                break
        return best if best is not None else (cpu_precise[0][1] if cpu_precise else 0)

    # What the controller spends per second of a configured wait: its CPU while the
    # region bakes (health checks of every new server through its agent and directly,
    # each interval; the loop), per second; the bake's last check and the move to
    # finalizing are in it too, so it errs on the high side.
    wait_rate = None
    for i, (t, label) in enumerate(marks):
        if label == "baking" and i + 1 < len(marks) and marks[i + 1][0] - t >= 1000:
            end = marks[i + 1][0]
            wait_rate = (ns_at(end) - ns_at(t)) / 1e6 / ((end - t) / 1000.0)
    out = []
    for i, (t, label) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else t
        ms = 1000.0 / a.clk_tck
        out.append({"state": label, "wall_ms": round(end - t),
                    "cpu_ms": round((cpu_at(end) - cpu_at(t)) * ms)})
    first = rows[0] if rows else {}
    waits = {"health gate: (successes - 1) x interval": (a.successes - 1) * a.health_interval_ms,
             "step_wait x %d steps" % len(steps): a.step_wait_ms * len(steps),
             "bake_time": 0 if first_deployment else a.bake_ms}
    n = len(next((r["fresh"] for r in reversed(rows) if r["fresh"]), []))
    print(json.dumps({"phases": out, "configured_waits_ms": waits, "wait_cpu_ms_per_s": wait_rate,
                      "startup_window_total_ms": a.startup_window_ms * ((n + 15) // 16),  # 16 at once
                      "servers": n, "first_deployment": first_deployment,
                      "audit_transitions": len(transitions),
                      "state_since_lag_ms": lag,
                      "missed_states": missed,
                      "created": created["time"] if created else None,
                      "first_state": first.get("state")}))
    return 0


def main(argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--db", required=True)
    w.add_argument("--pid", type=int, required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--stop", required=True)
    w.add_argument("--socket")
    w.add_argument("--backend")
    w.add_argument("--every-ms", type=float, default=2.0)
    w.add_argument("--cpu-every-ms", type=float, default=50.0)
    w.add_argument("--db-every-ms", type=float, default=20.0)
    w.add_argument("--timeout", type=float, default=600.0)
    x = sub.add_parser("wait")
    x.add_argument("--db", required=True)
    x.add_argument("--rollout", required=True)
    x.add_argument("--pid", type=int, required=True)
    x.add_argument("--timeout", type=float, default=300.0)
    for name in ("rollback", "phases"):
        r = sub.add_parser(name)
        r.add_argument("--watch", required=True)
        r.add_argument("--audit", required=True)
        r.add_argument("--rollout", required=True)
        r.add_argument("--region", required=True)
        if name == "phases":
            r.add_argument("--steps", required=True)
            for opt in ("--clk-tck", "--step-wait-ms", "--bake-ms", "--health-interval-ms",
                        "--successes", "--startup-window-ms"):
                r.add_argument(opt, type=int, required=True)
    a = p.parse_args(argv)
    return {"watch": watch, "wait": wait, "rollback": rollback, "phases": phases}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
HELPER
}

# rollout_stop_all DIR: every process this benchmark started under DIR, by pid: loadgen and
# watchers (rollout_pids), the controller, its HAProxy, the agents the local provider
# started and the services they run (recognised by DIR in /proc/PID/cmdline: the agents'
# configurations and the services' release directories live there).
rollout_pids=()
rollout_stop_all() {
  local d=$1 p
  for p in "${rollout_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${rollout_ctl:-}" ]; then
    kill "$rollout_ctl" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$rollout_ctl" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$rollout_ctl" 2>/dev/null || true
    rollout_ctl=""
  fi
  ours() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF "$d/"; }
  local pass
  for pass in TERM KILL; do
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
      ours "$p" && kill -s "$pass" "$p" 2>/dev/null || true
    done
    [ "$pass" = TERM ] && sleep 1
  done
  wait 2>/dev/null || true
}

bench_rollout() {
  local runs=5 servers=10 reps=3
  [ "$quick" = 1 ] && runs=1 servers=4 reps=1
  echo "== rollout: rollback speed ($runs runs, 2 servers); controller overhead ($servers servers)"
  local d="$work/rollout"
  mkdir -p "$d" && cd "$d"
  source "$root/tests/integration/agent/pki.sh"  # free_port
  export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
  export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid
  on_exit+=("rollout_stop_all $d")
  local helper="$d/helper.py"
  rollout_helper "$helper"
  local clk; clk=$(getconf CLK_TCK)

  # --- the manifests: a repository, the fleet policy and three releases ---------------
  for k in root targets online approver; do "$PW" key generate --out "keys/$k" >/dev/null 2>&1; done
  "$PW" repo init repo --root-key keys/root.pub --targets-key keys/targets.pub \
    --snapshot-key keys/online.pub --timestamp-key keys/online.pub >/dev/null
  "$PW" release sign repo --key keys/root >/dev/null
  "$PW" release sign repo --key keys/targets >/dev/null
  "$PW" release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null
  # As in rollout_flow.sh: 2 servers, canary steps 10/50/100 %, 2 s per step, 2 s bake,
  # 2 passing health checks (1 s apart) at the gate; no approvals (threshold 0), so the
  # figures are the machine's time, not a person's.
  local step_wait_s=2 bake_s=2 successes=2 health_interval_ms=1000 startup_window_ms=1000
  local approvers="{threshold: 0, keys: [$(cat keys/approver.pub)]}"
  cat >fleet.yaml <<YAML
version: 1
defaults:
  servers: 2
  canary_steps: [10, 50, 100]
  health_successes: $successes
  step_wait: ${step_wait_s}s
  bake_time: ${bake_s}s
  failure_policy: halt
  max_error_rate: 1.0
regions:
  - {name: $rb_region, wave: 1, provider: {kind: local}, backend: app_$rb_region,
     approvers: $approvers}
  - {name: $ov_region, wave: 1, provider: {kind: local}, backend: app_$ov_region,
     approvers: $approvers, servers: $servers}
YAML
  "$PW" release add repo fleet.yaml --name fleet/policy.yaml >/dev/null
  local version mode src
  for version in 1.0.0:ok 1.0.1:error-5xx 1.0.2:ok; do
    mode=${version#*:} version=${version%:*}
    src="$d/src-$version"; mkdir -p "$src/bin" dist
    cp "$root/examples/demo-service/demo_service.py" "$src/bin/"
    printf '#!/bin/sh\nexec python3 "$(dirname "$0")/demo_service.py" "$@"\n' >"$src/bin/demo-service"
    chmod 755 "$src/bin/demo-service" "$src/bin/demo_service.py"
    # A file of its own, so that no two releases share an artifact (and its sha256).
    printf '%s %s\n' "$version" "$mode" >"$src/VERSION"
    tar -czf "dist/demo-$version.tar.gz" -C "$src" . && rm -rf "$src"
    "$PW" release add repo "dist/demo-$version.tar.gz" --app demo-service --version "$version" \
      --run 'bin/demo-service --port {port} --host {host}' --env "DEMO_MODE=$mode" \
      --health "http:$rb_service_port/healthz" --health-successes 1 >/dev/null
  done
  "$PW" release sign repo --key keys/targets >/dev/null
  "$PW" release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null

  # --- the controller, with HAProxy (a frontend per region) ---------------------------
  local cport rb_port ov_port
  cport=$(free_port); rb_port=$(free_port); ov_port=$(free_port)
  cat >controller.yaml <<YAML
state_dir: $d/state
listen: 127.0.0.1:$cport
manifests: {repository: $d/repo@HEAD, root: $d/repo/metadata/1.root.json, sync_interval: 1h}
audit: {checkpoint_interval: 1h}
agent_binary: $AGENT
traffic:
  frontends: {$rb_region: 127.0.0.1:$rb_port, $ov_region: 127.0.0.1:$ov_port}
rollout: {provision_timeout: 60s, stage_timeout: 60s, health_timeout: 20s, min_requests: 10,
          inconclusive_grace: 20s}
YAML
  "$PW" serve --config controller.yaml --log-format json 2>>controller.log &
  rollout_ctl=$!
  local i
  for i in $(seq 300); do grep -q '"event":"haproxy_started"\|"event":"sync_refused"' controller.log && break; sleep 0.1; done
  grep -q '"event":"synced"' controller.log && grep -q '"event":"haproxy_started"' controller.log ||
    { echo "bench: the controller did not sync and start HAProxy"; tail -20 controller.log; exit 1; }
  "$PW" ca issue-operator --dir state/ca --name bench --role release-engineer --out bench >/dev/null
  pwc() {
    PATCHWAVE_CONTROLLER="https://127.0.0.1:$cport" PATCHWAVE_CA="$d/state/ca/ca.pem" \
      PATCHWAVE_CERT="$d/bench.crt" PATCHWAVE_KEY="$d/bench.key" "$PW" "$@"
  }
  # start_rollout VERSION REGION: the new rollout's id.
  start_rollout() {
    pwc rollout start "demo-service@$1" --regions "$2" --output json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
  }
  # watch_start OUT [HAPROXY_BACKEND]: the watcher in the background (stopped by watch_stop).
  watch_start() {
    rm -f "$d/watch.stop"
    local extra=()
    [ -n "${2:-}" ] && extra=(--socket "$d/state/haproxy/admin.sock" --backend "$2" --every-ms 2)
    python3 "$helper" watch --db "$d/state/store.db" --pid "$rollout_ctl" --out "$1" \
      --stop "$d/watch.stop" "${extra[@]}" &
    watcher=$!; rollout_pids+=("$watcher")
  }
  watch_stop() { touch "$d/watch.stop"; wait "$watcher" || true; }
  # wait_rollout ID: sets state to the rollout's final state. The helper runs in the
  # background so that a signal to the benchmark interrupts the wait (the EXIT trap then
  # stops everything).
  wait_rollout() {
    python3 "$helper" wait --db "$d/state/store.db" --rollout "$1" --pid "$rollout_ctl" >"$d/wait.out" &
    wait $!
    state=$(cat "$d/wait.out")
  }
  cpu_ticks() { python3 -c 'import sys; f=open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")",1)[1].split(); print(int(f[11])+int(f[12]))' "$rollout_ctl"; }
  audit_export() { "$PW" audit export --db state/store.db --output jsonl >"$1"; }

  # --- idle: what the engine's loop costs with no rollout -----------------------------
  local idle_s=10; [ "$quick" = 1 ] && idle_s=5
  local c0 c1 idle_ms_per_s
  c0=$(cpu_ticks); sleep "$idle_s"; c1=$(cpu_ticks)
  idle_ms_per_s=$(echo "($c1 - $c0) * 1000 / $clk / $idle_s" | bc -l)

  # --- 1. rollback speed --------------------------------------------------------------
  local id state
  id=$(start_rollout 1.0.0 "$rb_region")
  wait_rollout "$id"
  [ "$state" = succeeded ] || { echo "bench: first rollout to $rb_region: $state"; exit 1; }
  python3 "$root/tests/support/loadgen.py" --url "http://127.0.0.1:$rb_port/" --concurrency 2 \
    --out load-rb.json 2>/dev/null &
  local load=$!; rollout_pids+=("$load")
  sleep 1
  local engine_ms=() external_ms=() runs_text=() rb_detail=""
  for i in $(seq "$runs"); do
    watch_start "watch-rb-$i.jsonl" "app_$rb_region"
    id=$(start_rollout 1.0.1 "$rb_region")
    wait_rollout "$id"
    sleep 0.5  # the new servers' removal shows in `show stat`
    watch_stop
    [ "$state" = rolled_back ] || { echo "bench: the broken release ended $state, not rolled_back"; exit 1; }
    audit_export audit.jsonl
    python3 "$helper" rollback --watch "watch-rb-$i.jsonl" --audit audit.jsonl --rollout "$id" \
      --region "$rb_region" >"rollback-$i.json"
    local e x l
    read -r e x l < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["engine_ms"], r["external_ms"], r["external_lower_ms"])' "rollback-$i.json")
    [ "$x" != None ] || { echo "bench: run $i: HAProxy never showed the old servers back"; cat "rollback-$i.json"; exit 1; }
    engine_ms+=("$e"); external_ms+=("$x"); runs_text+=("$e / $x (changed after $l)")
    printf '  run %d: engine %s ms, external %s ms (HAProxy changed between %s and %s ms)\n' "$i" "$e" "$x" "$l" "$x"
  done
  kill -TERM "$load"; wait "$load" || true
  rb_detail=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); p = r["poll"]
print("reason: %s; show stat every %.1f ms (median), at most %.1f ms apart; the new servers were deleted from HAProxy %s ms after the decision" % (
    r["reason"], p["stat_gap_median_ms"], p["stat_gap_max_ms"], r["fresh_removed_ms"]))' "rollback-$runs.json")
  load_summary() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%d requests, %d 2xx, non-2xx %s, %d connection errors" % (d["requests"], d["ok"], d["by_status"] or "none", d["connection_errors"]))' "$1"; }
  local load_rb; load_rb=$(load_summary load-rb.json)

  # --- 2. controller overhead per server -----------------------------------------------
  # measure_rollout VERSION LABEL: runs the rollout into ov; sets cpu_ms wall_ms and writes
  # phases-LABEL.json.
  # PW_BENCH_PROFILE=DIR: `perf record` of the controller during each measured rollout,
  # into DIR/LABEL.perf.data (the figures then include perf's own overhead).
  measure_rollout() {
    watch_start "watch-$2.jsonl"
    local t0 t1 a b perf_pid=""
    if [ -n "${PW_BENCH_PROFILE:-}" ]; then
      mkdir -p "$PW_BENCH_PROFILE"
      perf record -q -F 1999 --call-graph dwarf,16384 -p "$rollout_ctl" \
        -o "$PW_BENCH_PROFILE/$2.perf.data" >/dev/null 2>&1 &
      perf_pid=$!
      sleep 0.5
    fi
    local log_before; log_before=$(wc -l <controller.log)
    a=$(cpu_ticks); t0=$(date +%s%N)
    id=$(start_rollout "$1" "$ov_region")
    wait_rollout "$id"
    t1=$(date +%s%N); b=$(cpu_ticks)
    # The local provider's own work in the controller (directories, agent processes; a
    # cloud provider's happens elsewhere): its provider_* log events carry their CPU.
    provider_ms=$(tail -n +"$((log_before + 1))" controller.log | python3 -c '
import json, sys
total = 0.0
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event", "").startswith("provider_"):
        total += e.get("provider_cpu_ms", 0)
print("%.1f" % total)')
    [ -z "$perf_pid" ] || { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
    watch_stop
    [ "$state" = succeeded ] || { echo "bench: the rollout of $1 to $ov_region: $state"; tail -5 controller.log; exit 1; }
    cpu_ms=$(echo "($b - $a) * 1000 / $clk" | bc -l)
    wall_ms=$(( (t1 - t0) / 1000000 ))
    audit_export audit.jsonl
    python3 "$helper" phases --watch "watch-$2.jsonl" --audit audit.jsonl --rollout "$id" \
      --region "$ov_region" --steps 10,50,100 --clk-tck "$clk" --step-wait-ms $((step_wait_s * 1000)) \
      --bake-ms $((bake_s * 1000)) --health-interval-ms "$health_interval_ms" \
      --successes "$successes" --startup-window-ms "$startup_window_ms" >"phases-$2.json"
  }
  local cpu_ms wall_ms provider_ms first_cpu first_wall next_cpu next_wall first_prov next_prov next_cpus
  measure_rollout 1.0.0 first
  first_cpu=$cpu_ms first_wall=$wall_ms first_prov=$provider_ms
  # The replacement needs traffic on the new servers for the canary analysis.
  python3 "$root/tests/support/loadgen.py" --url "http://127.0.0.1:$ov_port/" --concurrency 2 \
    --out load-ov.json 2>/dev/null &
  load=$!; rollout_pids+=("$load")
  sleep 1
  # Replacements, alternating 1.0.2 and 1.0.0 (each replaces the other): the figures are
  # the run with the median CPU (its CPU, wall, provider share and phases).
  local rep version_next rep_lines=()
  for rep in $(seq "$reps"); do
    version_next=1.0.2; [ $((rep % 2)) = 0 ] && version_next=1.0.0
    measure_rollout "$version_next" "next-$rep"
    rep_lines+=("$cpu_ms $wall_ms $provider_ms $rep")
    printf '  replacement %d (%s): %.0f ms of controller CPU in %.1f s\n' "$rep" "$version_next" \
      "$cpu_ms" "$(echo "$wall_ms / 1000" | bc -l)"
  done
  read -r next_cpu next_wall next_prov rep < <(printf '%s\n' "${rep_lines[@]}" | sort -n |
    sed -n "$(( (${#rep_lines[@]} + 1) / 2 ))p")
  cp "phases-next-$rep.json" phases-next.json
  next_cpus=$(printf '%s\n' "${rep_lines[@]}" | awk '{printf "%s%.0f", (NR>1?", ":""), $1}')
  kill -TERM "$load"; wait "$load" || true
  local load_ov; load_ov=$(load_summary load-ov.json)
  # loss_row WHAT FILE: a row of the loss table (failed = non-2xx + connection errors).
  loss_row() { python3 -c '
import json, sys
d = json.load(open(sys.argv[2])); failed = d["requests"] - d["ok"]  # every attempt that got no 2xx
print("| %s | %d | %d | %d | %s | 0: %s |" % (sys.argv[1], d["requests"], failed, d["connection_errors"],
      d["by_status"] or "none", "met" if failed == 0 else "MISSED"))' "$1" "$2"; }
  local loss_table
  loss_table="| under load | requests | failed | of them connection errors | non-2xx by status | goal |
|---|---|---|---|---|---|
$(loss_row "cutover: the replacement of $servers servers (10/50/100 %, old servers drained and retired)" load-ov.json)
$(loss_row "automatic rollback: $runs rollout(s) of the broken release (5xx from every new server), rolled back by the analysis" load-rb.json)"
  echo "$loss_table" | sed 's/^/  /'
  rollout_stop_all "$d"

  # --- figures ----------------------------------------------------------------------------
  local e_med e_max x_med x_max
  e_med=$(printf '%s\n' "${engine_ms[@]}" | median); e_max=$(printf '%s\n' "${engine_ms[@]}" | sort -n | tail -1)
  x_med=$(printf '%s\n' "${external_ms[@]}" | median); x_max=$(printf '%s\n' "${external_ms[@]}" | sort -n | tail -1)
  verdict() { if [ "$(echo "$1 <= $2" | bc -l)" = 1 ]; then echo "met"; else echo "MISSED"; fi; }
  local first_per next_per first_idle next_idle first_own next_own
  first_per=$(echo "$first_cpu / $servers" | bc -l); next_per=$(echo "$next_cpu / $servers" | bc -l)
  # Without the local provider's making and deleting of "machines".
  first_own=$(echo "($first_cpu - $first_prov) / $servers" | bc -l)
  next_own=$(echo "($next_cpu - $next_prov) / $servers" | bc -l)
  # The issue's figure: everything except the service's start and the configured waits,
  # i.e. also without what the controller does during the waits (at the rate measured
  # while the replacement baked), and without the local provider's "machines".
  local wait_rate first_waits_s next_waits_s first_wait_cpu next_wait_cpu first_core next_core
  # The rate: the median over every replacement's bake (one bake is 2 s, two or three
  # rounds of checks).
  read -r wait_rate first_waits_s next_waits_s < <(python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
rates = sorted(r for r in (json.load(open(p))["wait_cpu_ms_per_s"] for p in sys.argv[3:]) if r is not None)
rate = rates[len(rates) // 2] if rates else None
print("%s %.3f %.3f" % ("nan" if rate is None else "%.3f" % rate,
      sum(a["configured_waits_ms"].values()) / 1000, sum(b["configured_waits_ms"].values()) / 1000))' \
    phases-first.json phases-next.json phases-next-*.json)
  [ "$wait_rate" != nan ] || { echo "bench: the replacement's bake was not seen; no wait rate"; exit 1; }
  first_wait_cpu=$(echo "$wait_rate * $first_waits_s" | bc -l)
  next_wait_cpu=$(echo "$wait_rate * $next_waits_s" | bc -l)
  first_core=$(echo "($first_cpu - $first_prov - $first_wait_cpu) / $servers" | bc -l)
  next_core=$(echo "($next_cpu - $next_prov - $next_wait_cpu) / $servers" | bc -l)
  first_idle=$(echo "$idle_ms_per_s * $first_wall / 1000" | bc -l)
  next_idle=$(echo "$idle_ms_per_s * $next_wall / 1000" | bc -l)
  printf '  rollback, engine (rollout.traffic_restored):  median %.0f ms, max %.0f ms  (goal <= 1000 ms: %s)\n' \
    "$e_med" "$e_max" "$(verdict "$e_max" 1000)"
  printf '  rollback, external (HAProxy show stat):       median %.0f ms, max %.0f ms  (goal <= 1000 ms: %s)\n' \
    "$x_med" "$x_max" "$(verdict "$x_max" 1000)"
  printf '  controller CPU, first deployment of %d servers:  %.0f ms in %.1f s = %.1f ms/server  (goal <= 10: %s)\n' \
    "$servers" "$first_cpu" "$(echo "$first_wall / 1000" | bc -l)" "$first_per" "$(verdict "$first_per" 10)"
  printf '  controller CPU, replacement of %d servers:       %.0f ms in %.1f s = %.1f ms/server  (median of %d: %s ms; goal <= 10: %s)\n' \
    "$servers" "$next_cpu" "$(echo "$next_wall / 1000" | bc -l)" "$next_per" "$reps" "$next_cpus" "$(verdict "$next_per" 10)"
  printf '  of which the local provider (making and deleting the servers): first %.0f ms, replacement %.0f ms; without it %.1f / %.1f ms/server\n' \
    "$first_prov" "$next_prov" "$first_own" "$next_own"
  printf '  during the configured waits (%.1f ms/s while %d servers baked): first %.0f ms (%.0f s), replacement %.0f ms (%.0f s)\n' \
    "$wait_rate" "$servers" "$first_wait_cpu" "$first_waits_s" "$next_wait_cpu" "$next_waits_s"
  printf '  per server without the provider and the waits: first %.1f ms, replacement %.1f ms  (goal <= 10: %s / %s)\n' \
    "$first_core" "$next_core" "$(verdict "$first_core" 10)" "$(verdict "$next_core" 10)"
  printf '  controller CPU with no rollout (engine loop):   %.1f ms per second\n' "$idle_ms_per_s"
  local table
  table=$(python3 - "phases-first.json" "phases-next.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
order = ["pending", "awaiting_approval", "provisioning", "staging: download + unpack",
         "staging: starting services", "verifying", "shifting", "baking", "finalizing"]
def key(state):
    base = state.split(" ")[0] if state.startswith("shifting") else state
    pct = int(state.split()[1]) if state.startswith("shifting") else 0
    return (order.index(base) if base in order else len(order), pct)
def rows(p):
    return {r["state"]: r for r in p["phases"] if r["wall_ms"] or r["cpu_ms"]}
ra, rb = rows(a), rows(b)
def cell(r, s):
    return "%.2f s / %d ms" % (r[s]["wall_ms"] / 1000, r[s]["cpu_ms"]) if s in r else "-"
print("| region state | first deployment: wall / controller CPU | replacement: wall / controller CPU |")
print("|---|---|---|")
for s in sorted(set(ra) | set(rb), key=key):
    print("| %s | %s | %s |" % (s, cell(ra, s), cell(rb, s)))
notes = []
for name, p in (("First deployment", a), ("Replacement", b)):
    waits = sum(p["configured_waits_ms"].values())
    total = sum(r["wall_ms"] for r in p["phases"])
    rest = total - waits - p["startup_window_total_ms"]
    text = "%s: %.1f s in all; configured waits %.1f s (%s); the agents' startup windows %.1f s (%d servers started together, at most 16 at once, 1 s each); the rest %.1f s (%.2f s per server: provisioning and enrolling, downloads, health checks, HAProxy, retiring)." % (
        name, total / 1000, waits / 1000,
        ", ".join("%s %.0f s" % (k, v / 1000) for k, v in p["configured_waits_ms"].items() if v),
        p["startup_window_total_ms"] / 1000, p["servers"], rest / 1000, rest / 1000 / max(1, p["servers"]))
    lag = [l for l in p["state_since_lag_ms"] if l[1] > 100]
    if lag:
        text += " The engine's state_since was already %s old when the store got the new state." % ", ".join(
            "%.1f s (%s)" % (ms / 1000, st) for st, ms in lag)
    if p["missed_states"]:
        text += " (Not seen by the 20 ms poll: %s.)" % ", ".join(p["missed_states"])
    notes.append(text)
print("\n" + "\n\n".join(notes))
PY
)
  echo "$table" | sed 's/^/  /'
  {
    echo "### rollout: rollback speed and controller overhead per server"
    echo
    echo "Command: \`scripts/bench$([ "$quick" = 1 ] && echo " --quick") rollout\` (the real controller, local-provider agents, the managed HAProxy, demo_service.py; load from loadgen.py, 2 connections)"
    echo
    echo "Rollback: $runs run(s) of a release whose new servers answer 5xx, rolled out to a region of 2 servers under load; the canary analysis at 10 % fails and the engine rolls back. From the decision (decided_at_ms: the start of the engine tick that took it) to 100 % of the traffic on the old servers:"
    echo
    echo "| measured by | median | max | goal |"
    echo "|---|---|---|---|"
    printf '| the engine: audit event `rollout.traffic_restored` (restored_at_ms: after the old weights are set and the new servers deleted) | %.0f ms | %.0f ms | <= 1000 ms: %s |\n' "$e_med" "$e_max" "$(verdict "$e_max" 1000)"
    printf '| outside: first `show stat` (polled every ~2 ms) with the new servers at weight 0 / drained / gone and the old ones at weight > 0 | %.0f ms | %.0f ms | <= 1000 ms: %s |\n' "$x_med" "$x_max" "$(verdict "$x_max" 1000)"
    echo
    echo "Runs, engine / external in ms (the external figure is when the poller had read HAProxy's answer; the change came after the previous request was sent, the figure in brackets): $(printf '%s; ' "${runs_text[@]}" | sed 's/; $//')."
    echo "Last run: $rb_detail."
    echo
    echo "Loss: requests that failed for the clients (non-2xx answers and connection errors; loadgen.py, 2 connections on the region's frontend) during a cutover and during automatic rollbacks. The broken release answers 5xx to every request; HAProxy retries a failed GET on another server (\`retry-on\`), so the clients do not see them, while the analysis still counts them (wretr):"
    echo
    echo "$loss_table"
    echo
    printf 'Controller overhead: its CPU time (utime + stime of `patchwave serve`, all threads; not HAProxy, the agents or the services) from `rollout start` to the rollout'"'"'s end, divided by the %d new servers:\n\n' "$servers"
    echo "| rollout into one region | wall | controller CPU, all in | per server, all in | of it, the local provider's | during the configured waits | per server without both: the goal's figure | goal |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '| first deployment (1 step at 100 %%, no bake) | %.1f s | %.0f ms | %.1f ms | %.0f ms | %.0f ms (%.0f s) | **%.1f ms** | <= 10 ms: %s |\n' "$(echo "$first_wall / 1000" | bc -l)" "$first_cpu" "$first_per" "$first_prov" "$first_wait_cpu" "$first_waits_s" "$first_core" "$(verdict "$first_core" 10)"
    printf '| replacement under load (10/50/100 %%, bake, %d old servers retired; the median of '"$reps"' runs, CPU '"$next_cpus"' ms) | %.1f s | %.0f ms | %.1f ms | %.0f ms | %.0f ms (%.0f s) | **%.1f ms** | <= 10 ms: %s |\n' "$servers" "$(echo "$next_wall / 1000" | bc -l)" "$next_cpu" "$next_per" "$next_prov" "$next_wait_cpu" "$next_waits_s" "$next_core" "$(verdict "$next_core" 10)"
    echo
    printf 'The goal counts "everything except the service'"'"'s own start time and the configured waits": the last columns leave out what the controller does during the configured waits (the health gate'"'"'s interval, the steps'"'"' waits, the bake: a health check of every new server through its agent and directly each interval, and the loop), at the rate measured while the replacements'"'"' %d new servers baked (%.1f ms of CPU per second, the median over the replacements, from the threads'"'"' schedstat counters in ns; it includes the bake'"'"'s last check, so it errs high), and the local provider'"'"'s own work (below). The all-in figures are the ones to compare with earlier entries.\n' "$servers" "$wait_rate"
    echo
    echo "The local provider makes each \"machine\" inside the controller's process: a directory with the agent's configuration, the agent started (fork, exec), and on decommission the processes stopped and the directory deleted. Its CPU is measured by the controller around each provider call (thread CPU time, logged as \`provider_provisioned\` / \`provider_decommissioned\` with \`provider_cpu_ms\`); a cloud provider's work would happen elsewhere, so it is left out of the goal's figure."
    echo
    printf 'With no rollout the engine loop alone costs %.1f ms of CPU per second, i.e. about %.0f ms of the first deployment and %.0f ms of the replacement (included above, in the all-in figures).\n\n' "$idle_ms_per_s" "$first_idle" "$next_idle"
    echo "Wall clock per region state (from the moment the region's record in the store showed it, polled every 20 ms: the audit events carry whole seconds only, and the engine's state_since is the start of the tick that made the change; \"starting services\" from the record's action), with the controller's CPU time in each:"
    echo
    echo "$table"
    echo
  } >>"$results"
  cd "$root"
}
