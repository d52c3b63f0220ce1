#!/usr/bin/env python3
"""Chaos runs: rollouts under client load with one fault injected at a random moment,
each run checked against what must hold whatever fails.

    chaos.py --patchwave BIN --agent BIN [--runs N] [--faults a,b] [--seed S]
             [--output text|json] [--keep]

For every run: the rollout ends as the policy says for that fault (faults.py); when it
rolls back, no new server keeps weight in HAProxy longer than one health interval after
the decision; no server is leaked (every server is serving with its agent alive, or
decommissioned with no process left); `patchwave audit verify` passes; and every state
the API showed (an acknowledged event) is in the audit log. Prints a table of fault,
runs, outcomes and violations; exits 1 if any run broke a rule (or could not run).
Needs root (the full-disk fault mounts a tmpfs).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
from watchers import CutProxy, RolloutWatcher, WeightWatcher  # noqa: E402
from world import DEFAULT_REGION, World  # noqa: E402

HEALTH_INTERVAL_MS = 1000  # the releases' --health-interval
LOADGEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support", "loadgen.py")


class Run:
    def __init__(self, world, fault):
        self.world, self.fault = world, fault
        self.target = None
        self.violations = []


def names_of(servers):
    return [s["name"] if isinstance(s, dict) else s for s in servers]


def one_run(world, fault, index):
    run = Run(world, fault)
    run.index_ = index
    version = world.release()
    world.sync()
    fault.prepare(run)
    load = subprocess.Popen([sys.executable, LOADGEN, "--url", "http://127.0.0.1:%d/" % world.front,
                             "--concurrency", "2", "--out", "load-%d.json" % index],
                            cwd=world.work)
    weights = WeightWatcher(os.path.join(world.state, "haproxy/admin.sock"), "app_" + world.region)
    weights.start()
    rid = world.start_rollout(version)
    run.rid = rid
    run.watch = RolloutWatcher(world, rid)
    run.watch.start()
    detail = None
    while detail is None:
        detail = world.rollout(rid)
    run.sha256 = detail["sha256"]
    phase = random.choice(fault.phases)
    reached = run.watch.wait_phase([phase])
    # A random moment within the phase: at most 0.8 s into it, and no later than when the
    # region leaves it (as the watcher, 50 ms behind, sees it).
    deadline = time.time() + random.uniform(0, 0.8)
    while reached and time.time() < deadline:
        region = run.watch.region()
        if region and region["state"] != reached:
            break
        time.sleep(0.01)
    region = run.watch.region()
    run.phase = region["state"] if region else "?"
    run.injected = fault.inject(run) if reached else None
    if run.injected is None:
        run.violations.append("the fault found nothing to strike in %s (the rollout was %s)"
                              % (phase, run.watch.state()))
    outcome = run.watch.wait_end(180)
    run.watch.stop.set()
    weights.stop.set()
    load.terminate()
    load.wait()
    fault.undo(run)
    run.outcome = outcome or "stuck"
    if run.injected is not None:
        check(run, weights)
    return run


def check(run, weights):
    world, fault = run.world, run.fault
    final = world.rollout(run.rid) or run.watch.last
    region = final["regions"][0]
    if run.outcome not in fault.outcomes:
        run.violations.append("ended %s (%s), the policy says %s" % (
            run.outcome, region.get("reason", ""), " or ".join(fault.outcomes)))
    if run.outcome == "rolled_back":
        reason = region.get("reason", "")
        names = fault.reason_names or ((run.target,) if run.target else ())
        if names and not any(n in reason for n in names):
            run.violations.append("rolled back for another reason: " + reason)
    events = world.audit_events()
    mine = [e for e in events if e["inputs"].get("rollout") == run.rid]
    # Traffic: once the decision to roll back is taken, the new servers lose their weight
    # within one health interval.
    restored = [e for e in mine if e["action"] == "rollout.traffic_restored"]
    if run.outcome == "rolled_back":
        if not restored:
            run.violations.append("no rollout.traffic_restored event")
        else:
            decided = restored[0]["inputs"]["decided_at_ms"]
            for server in names_of(region.get("fresh", [])):
                late = weights.last_weighted.get(server, 0) - decided
                if late > HEALTH_INTERVAL_MS:
                    run.violations.append("%s kept weight %d ms after the decision" % (server,
                                                                                      late))
    # Acknowledged events: every state the API showed is in the log.
    logged = {(e["inputs"].get("region"), e["inputs"].get("to")) for e in mine
              if e["action"] == "rollout.region"}
    if not any(e["action"] == "rollout.create" for e in mine):
        run.violations.append("rollout.create is not in the audit log")
    for seen in run.watch.seen:
        if seen[1] not in ("pending",) and seen not in logged:
            run.violations.append("state %s/%s was shown but is not in the audit log" % seen)
    ok, text = world.audit_verify()
    if not ok:
        run.violations.append("audit verify: " + text)
    run.violations += leaks(world)
    extra = getattr(fault, "check", None)
    if extra:
        problem = extra(run)
        if problem:
            run.violations.append(problem)
    try:
        load = json.load(open(os.path.join(world.work, "load-%d.json" % run.index_)))
        run.client_errors = load["connection_errors"] + sum(load["by_status"].values())
        run.requests = load["requests"]
    except (OSError, ValueError, KeyError):
        run.client_errors, run.requests = None, 0


def leaks(world):
    """Servers neither serving with a live agent nor decommissioned with nothing left."""
    out = []
    deadline = time.time() + 15
    while True:
        out = []
        for server in world.servers():
            name, state = server["name"], server["state"]
            directory = os.path.join(world.servers_dir, name)
            agent = faults.wait_pid(os.path.join(directory, "agent.pid"), timeout=0)
            running = agent is not None and name in open("/proc/%d/cmdline" % agent).read() \
                if agent else False
            services = faults.service_pids(world, name)
            if state == "serving" and not running:
                out.append("%s is serving but its agent is not running" % name)
            elif state == "decommissioned" and (running or services):
                out.append("%s is decommissioned but still runs (agent %s, services %s)" % (
                    name, agent if running else "-", services))
            elif state not in ("serving", "decommissioned"):
                out.append("%s was left %s" % (name, state))
        if not out or time.time() > deadline:
            return out
        time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patchwave", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--runs", type=int, default=20, help="runs per fault (default 20)")
    parser.add_argument("--faults", default=",".join(faults.ALL),
                        help="comma-separated, of: " + ", ".join(faults.ALL))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--output", choices=("text", "json"), default="text")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--region", default=DEFAULT_REGION,
                        help="the region's name; it picks the servers' loopback addresses")
    args = parser.parse_args()
    chosen = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in faults.ALL]
    if unknown:
        parser.error("--faults: unknown fault %s (known: %s)" % (", ".join(unknown),
                                                                 ", ".join(faults.ALL)))
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    random.seed(seed)
    work = tempfile.mkdtemp(prefix="pw-chaos-")
    world = World(os.path.abspath(args.patchwave), os.path.abspath(args.agent), work,
                  padding_mib=16, tmpfs_mib=256, region=args.region)
    proxy = CutProxy(0)
    world.proxy = proxy
    results = {f: [] for f in chosen}
    started = time.time()
    code = 0
    try:
        world.set_up(proxy.port)
        proxy.target = world.cport
        proxy.start()
        first = world.start_rollout("1.0.1")
        watch = RolloutWatcher(world, first)
        watch.start()
        if watch.wait_end(180) != "succeeded":
            raise RuntimeError("the first rollout did not succeed: %s" % watch.last)
        watch.stop.set()
        index = 0
        for round_ in range(args.runs):
            for name in chosen:
                index += 1
                fault = faults.ALL[name]()
                try:
                    run = one_run(world, fault, index)
                except Exception as e:  # the harness or the world broke: counted, shown
                    run = Run(world, fault)
                    run.outcome, run.phase, run.injected = "error", "?", None
                    run.violations = ["the run failed: %s" % e]
                    traceback.print_exc()
                results[name].append(run)
                line = "%-16s run %2d  %-12s in %-12s %s" % (
                    name, round_ + 1, run.outcome, run.phase,
                    "ok" if not run.violations else "VIOLATION: " + "; ".join(run.violations))
                print(line, file=sys.stderr, flush=True)
    except Exception as e:
        print("chaos: the world could not be set up: %s (work dir %s)" % (e, work),
              file=sys.stderr)
        traceback.print_exc()
        args.keep = True
        code = 1
    finally:
        world.tear_down(args.keep)
    if code == 0:
        code = report(results, args.output, seed, time.time() - started)
    return code


def report(results, output, seed, elapsed):
    rows = []
    for name, runs in results.items():
        outcomes = {}
        for r in runs:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        violations = sum(1 for r in runs if r.violations)
        errors = [e for r in runs for e in [getattr(r, "client_errors", None)] if e is not None]
        rows.append({"fault": name, "description": faults.ALL[name].name, "runs": len(runs),
                     "outcomes": outcomes, "violations": violations,
                     "client_errors": sum(errors),
                     "client_requests": sum(getattr(r, "requests", 0) for r in runs),
                     "details": [v for r in runs for v in r.violations]})
    if output == "json":
        print(json.dumps({"seed": seed, "elapsed_s": round(elapsed), "faults": rows}, indent=1))
    else:
        print("%-17s %5s  %-34s %10s  %s" % ("fault", "runs", "outcomes", "violations",
                                             "client errors / requests"))
        for row in rows:
            outcomes = ", ".join("%s %d" % kv for kv in sorted(row["outcomes"].items()))
            print("%-17s %5d  %-34s %10d  %d / %d" % (row["fault"], row["runs"], outcomes,
                                                     row["violations"], row["client_errors"],
                                                     row["client_requests"]))
        print("seed %d, %.0f s; the same faults and phases: --seed %d" % (seed, elapsed, seed))
        for row in rows:
            for detail in row["details"]:
                print("  %s: %s" % (row["fault"], detail))
    return 1 if any(r["violations"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
