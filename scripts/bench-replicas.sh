#!/usr/bin/env bash
# The `replicas` benchmark of scripts/bench, which sources this file and calls
# bench_replicas (it uses $root, $build, $work, $quick and $results). Run directly, this
# file runs `scripts/bench [OPTIONS] replicas`.
#
# Controller replicas on one PostgreSQL store (a throwaway server, tests/support/
# pg_server.sh): pw_bench_replica processes (bench/scale/replica.cpp) run the real engine,
# StoreRecords and StoreLeases over a simulated fleet of 10,000 servers in 50 regions
# (one wave, all regions at once; the policy's waits pass 10x faster on a shared
# simulated clock; leases of 3 s on the database's clock).
#  - throughput: the rollout's wall time with one replica and with three;
#  - failover: with three, the one holding the most regions is killed (SIGKILL) mid-way;
#    the time from the kill until the first and until the last of its regions is claimed
#    by a survivor (polled in region_leases every 20 ms), and the rollout must succeed.
# --quick: one run of each; otherwise three, medians. PW_BENCH_LEASE_MS sets the lease
# (default 3000; the controller's default is 10000).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  exec "$(dirname "$0")/bench" "$@" replicas
fi

bench_replicas() {
  echo "== replicas: 10,000 simulated servers, 50 regions, 1 vs 3 replicas on PostgreSQL"
  local pg runs=3
  pg=$(mktemp -d "${TMPDIR:-/tmp}/pw-pg-XXXXXX") # its own: the server runs as another user
  [ "$quick" = 1 ] && runs=1
  local url
  url=$(bash "$root/tests/support/pg_server.sh" start "$pg") || { echo "bench replicas: no PostgreSQL server" >&2; return 1; }
  on_exit+=("bash $root/tests/support/pg_server.sh stop $pg")
  python3 - "$build/bench/scale/pw_bench_replica" "$url" "$runs" "$results" <<'PY'
import json, os, signal, statistics, subprocess, sys, time

binary, url, runs, results = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
psql = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
psql = "/usr/lib/postgresql/%s/bin/psql" % psql
base = url.rsplit("/", 1)[0]
SERVERS, REGIONS = 10000, 50
LEASE_MS = int(os.environ.get("PW_BENCH_LEASE_MS", "3000"))

def sql(db, text):
    return subprocess.run([psql, db, "-XAtqc", text], check=True, capture_output=True,
                          text=True).stdout.strip()

def fresh(n):
    name = "bench_%d_%d" % (n, int(time.time() * 1000) % 100000)
    sql(base + "/postgres", "CREATE DATABASE " + name)
    return base + "/" + name

def start(db, names, start_ms):
    common = ["--url", db, "--servers", str(SERVERS), "--regions", str(REGIONS),
              "--lease-ms", str(LEASE_MS), "--start-ms", str(start_ms)]
    subprocess.run([binary] + common + ["--name", "setup", "--create"], check=True)
    return {n: subprocess.Popen([binary] + common + ["--name", n], stdout=subprocess.PIPE,
                                text=True) for n in names}

def finish(db, procs):
    out = {}
    for n, p in procs.items():
        text, _ = p.communicate(timeout=900)
        if p.returncode == 0 and text.strip():
            out[n] = json.loads(text.strip().splitlines()[-1])
    state = sql(db, "SELECT state FROM rollouts WHERE id = 'r1'")
    return out, state

def throughput(replicas, n):
    db = fresh(n)
    t0 = time.time()
    procs = start(db, ["r%d" % i for i in range(1, replicas + 1)], int(t0 * 1000))
    out, state = finish(db, procs)
    wall = time.time() - t0
    if state != "succeeded":
        raise SystemExit("bench replicas: the rollout ended %s with %d replicas" % (state, replicas))
    return wall

def failover(n):
    db = fresh(n)
    t0 = time.time()
    procs = start(db, ["r1", "r2", "r3"], int(t0 * 1000))
    # Mid-way: every region claimed and some work done.
    time.sleep(4)
    held = sql(db, "SELECT holder, count(*) FROM region_leases WHERE region <> '' GROUP BY holder "
                   "ORDER BY 2 DESC, 1 LIMIT 1").split("|")
    victim, count = held[0], int(held[1])
    procs[victim].send_signal(signal.SIGKILL)
    killed = time.time()
    first = last = None
    while last is None and time.time() - killed < 60:
        left = int(sql(db, "SELECT count(*) FROM region_leases WHERE holder = '%s' AND region <> ''"
                           % victim))
        now = time.time()
        if first is None and left < count:
            first = now
        if left == 0:
            last = now
        time.sleep(0.02)
    procs[victim].wait()
    del procs[victim]
    out, state = finish(db, procs)
    if state != "succeeded" or last is None:
        raise SystemExit("bench replicas: after the kill the rollout ended %s" % state)
    return (first - killed) * 1000, (last - killed) * 1000, count

one = [throughput(1, i) for i in range(runs)]
three = [throughput(3, 10 + i) for i in range(runs)]
fails = [failover(20 + i) for i in range(runs)]
m1, m3 = statistics.median(one), statistics.median(three)
f_first = statistics.median(f[0] for f in fails)
f_last = statistics.median(f[1] for f in fails)
moved = statistics.median(f[2] for f in fails)
print("one replica: %.1f s; three: %.1f s (%.2fx); failover: first region %.0f ms, all %d regions %.0f ms after the kill (lease %d ms)"
      % (m1, m3, m1 / m3, f_first, moved, f_last, LEASE_MS))
with open(results, "a") as out:
    out.write("### replicas: 10,000 simulated servers, 50 regions, PostgreSQL\n\n")
    env = "" if LEASE_MS == 3000 else "PW_BENCH_LEASE_MS=%d " % LEASE_MS
    out.write("`%sscripts/bench%s replicas` (bench/scale/replica.cpp, scripts/bench-replicas.sh; "
              "%d run(s), medians; waits pass 10x faster on a simulated clock, leases run in "
              "real time)\n\n" % (env, " --quick" if runs == 1 else "", runs))
    out.write("| | figure |\n|---|---|\n")
    out.write("| one replica: the rollout's wall time | %.1f s |\n" % m1)
    out.write("| three replicas: the rollout's wall time | %.1f s (%.2fx) |\n" % (m3, m1 / m3))
    out.write("| failover: kill -9 to the first of its regions claimed again | %.0f ms |\n" % f_first)
    out.write("| failover: kill -9 to the last of its %d regions claimed again | %.0f ms |\n"
              % (moved, f_last))
    out.write("| lease | %d ms |\n\n" % LEASE_MS)
PY
}
