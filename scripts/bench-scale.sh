#!/usr/bin/env bash
# The `scale` benchmark of scripts/bench, which sources this file and calls bench_scale
# (it uses $root, $build, $work, $quick, $results and median). Run directly, this file
# runs `scripts/bench [OPTIONS] scale`.
#
# Controller scale: pw_bench_scale (bench/scale) rolls a release out to a simulated fleet
# of 1,000 and 10,000 servers in 50 regions (N/50 each, every region replacing servers of
# an earlier release), with the real rollout engine and the real Records port
# (controller::StoreRecords on a SQLite store), driven as the controller's loop drives
# it, while a second thread reads the rollout as `GET /v1/rollouts/{id}` does every
# ~10 ms. Provider, agents, probes and HAProxy are in-memory fakes that answer at once;
# the clock is simulated (100 ms per tick), so the policy's waits cost ticks, not time.
# Figures per run: RSS (VmRSS before, VmHWM peak, VmRSS after), CPU time (getrusage,
# minus the status reader's thread and the fake traffic), store size (store.db + -wal),
# saves, and the status call's latency. --quick: one run of each size; else 3, medians.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  exec "$(dirname "$0")/bench" "$@" scale
fi

# scale_report RUNS_JSONL QUICK RUNS: the table (stdout) and the markdown section (fd 3).
scale_report() {
  python3 - "$@" <<'PY'
import json, statistics, sys

path, quick, runs = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
rows = [json.loads(line) for line in open(path) if line.strip()]
ok = {}
failed = []
for r in rows:
    if "error" in r:
        failed.append(r)
    else:
        ok.setdefault(r["servers"], []).append(r)
sizes = sorted(ok)

def med(n, key):
    return statistics.median(r[key] for r in ok[n])

def mib(kib):
    return kib / 1024.0

def derived(n):
    d = {k: med(n, k) for k in ok[n][0] if isinstance(ok[n][0][k], (int, float))}
    d["store_bytes"] = d["store_db_bytes"] + d["store_wal_bytes"]
    d["save_cpu_each_ms"] = d["save_cpu_ms"] / max(1, d["saves"])
    d["load_cpu_each_ms"] = d["load_cpu_ms"] / max(1, d["load_calls"])
    d["cpu_per_sim_s"] = d["cpu_controller_ms"] / max(0.001, d["simulated_s"])
    d["loop_per_sim_s"] = (d["tick_cpu_ms"] + d["load_cpu_ms"]) / max(0.001, d["simulated_s"])
    # While every region is in verifying, shifting or baking (most of a rollout with real
    # waits), each region's health check saves the whole record once per interval (1 s)
    # and the loop reloads it every tick (at most 10 a second).
    d["sustained_ms"] = d["regions"] * d["save_cpu_each_ms"] + 10 * d["load_cpu_each_ms"]
    d["save_share"] = 100.0 * d["save_cpu_ms"] / max(0.001, d["cpu_controller_ms"])
    d["load_share"] = 100.0 * d["load_cpu_ms"] / max(0.001, d["cpu_controller_ms"])
    return d

D = {n: derived(n) for n in sizes}
lines = []  # (label, {n: text}, growth text)

def row(label, fmt, key=None, per_server=None):
    values = {n: fmt(D[n]) for n in sizes}
    growth = ""
    if per_server and len(sizes) == 2:
        a, b = per_server(D[sizes[0]]), per_server(D[sizes[1]])
        growth = f"{b / a:.2f}x" if a else "-"
    lines.append((label, values, growth))

row("rollout wall time (simulated time, ticks)", lambda d: f"{d['wall_s']:.1f} s ({d['simulated_s']:.1f} s, {d['ticks']:.0f})")
row("controller CPU, whole rollout", lambda d: f"{d['cpu_controller_ms'] / 1000:.2f} s")
row("controller CPU per server", lambda d: f"**{d['cpu_per_server_ms']:.2f} ms**", per_server=lambda d: d["cpu_per_server_ms"])
row("CPU per simulated second: all threads / the engine loop's thread", lambda d: f"{d['cpu_per_sim_s']:.0f} / {d['loop_per_sim_s']:.0f} ms")
row("record saves / CPU each / share of CPU", lambda d: f"{d['saves']:.0f} / {d['save_cpu_each_ms']:.1f} ms / {d['save_share']:.0f} %")
row("save wall time (CPU + fsync + waiting for the store mutex)", lambda d: f"{d['save_wall_ms'] / 1000:.1f} s")
row("loading the active rollouts, every tick: CPU each / share", lambda d: f"{d['load_cpu_each_ms']:.1f} ms / {d['load_share']:.0f} %")
row("loop CPU per second while the regions verify/shift/bake, any waits (50 saves + 10 reloads a second)", lambda d: f"{d['sustained_ms']:.0f} ms")
row("RSS before the rollout (fakes + store open)", lambda d: f"{mib(d['rss_before_kib']):.1f} MiB")
row("peak RSS (VmHWM)", lambda d: f"**{mib(d['hwm_kib']):.1f} MiB**")
row("RSS after the rollout", lambda d: f"{mib(d['rss_after_kib']):.1f} MiB")
row("peak RSS growth per server ((VmHWM - RSS before) / N)", lambda d: f"{d['rss_per_server_kib']:.1f} KiB", per_server=lambda d: d["rss_per_server_kib"])
row("store size after (store.db + -wal)", lambda d: f"{d['store_db_bytes'] / 1048576:.1f} + {d['store_wal_bytes'] / 1048576:.1f} MiB")
row("store.db per server (the WAL is bounded by SQLite's auto-checkpoint)", lambda d: f"{d['store_db_bytes'] / d['servers'] / 1024:.2f} KiB", per_server=lambda d: d["store_db_bytes"] / d["servers"])
row("the rollout's record (rollout_regions.data)", lambda d: f"{d['region_rows_bytes'] / 1048576:.2f} MiB", per_server=lambda d: d["region_rows_bytes"] / d["servers"])
row("`rollout status` during the rollout: p50 / p99 / max", lambda d: f"{d['status_p50_ms']:.0f} / {d['status_p99_ms']:.0f} / {d['status_max_ms']:.0f} ms")
row("`rollout status`: calls, reply size; alone after the rollout", lambda d: f"{d['status_samples']:.0f}, {d['status_bytes_final'] / 1048576:.2f} MiB; {d['status_idle_ms']:.0f} ms")
row("audit events / agent calls (one thread each)", lambda d: f"{d['audits']:.0f} / {d['agent_calls']:.0f}")

head = ["what"] + [f"{n:,} servers" for n in sizes] + (["10,000 vs 1,000 per server"] if len(sizes) == 2 else [])
width = max(len(l[0]) for l in lines) if lines else 10
print("  " + " | ".join(head))
for label, values, growth in lines:
    cells = [values[n].replace("**", "") for n in sizes]
    print(f"  {label:<{width}} | " + " | ".join(f"{c:>28}" for c in cells) + (f" | {growth}" if growth else ""))

md = []
cmd = "scripts/bench" + (" --quick" if quick else "") + " scale"
what = "1 run of each size" if quick else f"median of {runs} runs of each size, alternating"
md.append("### scale: the controller with a simulated fleet of 1,000 and 10,000 servers in 50 regions")
md.append("")
md.append(f"Command: `{cmd}` ({what}; `bench/scale/pw_bench_scale`: the real rollout engine and "
          "`StoreRecords` on a real SQLite store (WAL, synchronous=FULL), driven like the "
          "controller's loop (load the active rollouts, tick, every 100 ms of a simulated clock); "
          "provider, agents, probes and HAProxy are in-memory fakes that answer at once)")
md.append("")
md.append("One rollout of every region at once (one wave, `max_parallel` 50), each region replacing "
          "its N/50 servers of an earlier release: canary steps 10/50/100 %, step_wait 2 s, "
          "bake_time 2 s, 2 passing health checks 1 s apart (the waits cost ticks, not time). "
          "CPU is the process's (getrusage) minus the status reader's thread and the fake traffic; "
          "it includes the fakes' trivial answers and the engine's threads for agent calls.")
md.append("")
md.append("| " + " | ".join(head) + " |")
md.append("|" + "---|" * len(head))
for label, values, growth in lines:
    md.append(f"| {label} | " + " | ".join(values[n] for n in sizes) + (f" | {growth}" if len(sizes) == 2 else "") + " |")
md.append("")

notes = []
if 10000 in D:
    peak = D[10000]["hwm_kib"]
    verdict = "met" if peak < 1024 * 1024 else "MISSED"
    notes.append(f"Peak RSS at 10,000 servers: **{mib(peak):.0f} MiB** (goal < 1024 MiB: {verdict}).")
else:
    notes.append("Peak RSS at 10,000 servers: no successful run (goal < 1024 MiB: NOT MEASURED).")
if len(sizes) == 2:
    g_rss = D[sizes[1]]["rss_per_server_kib"] / D[sizes[0]]["rss_per_server_kib"]
    g_cpu = D[sizes[1]]["cpu_per_server_ms"] / D[sizes[0]]["cpu_per_server_ms"]
    g_store = (D[sizes[1]]["store_db_bytes"] / sizes[1]) / (D[sizes[0]]["store_db_bytes"] / sizes[0])
    def judge(g):
        return "linear or better" if g <= 1.25 else "WORSE than linear"
    notes.append(f"Growth from 1,000 to 10,000 servers, per server: RSS {g_rss:.2f}x ({judge(g_rss)}), "
                 f"CPU {g_cpu:.2f}x ({judge(g_cpu)}), store.db {g_store:.2f}x ({judge(g_store)}) "
                 "(goal: linear or better). CPU per server stays flat only because the number of "
                 "regions does: the saves grow with the regions (and their states and health checks), "
                 "the cost of each save with the servers of the whole rollout.")
if 10000 in D:
    d = D[10000]
    notes.append(
        f"Where the time goes at 10,000: every save serializes the whole rollout (every region's row, "
        f"{d['region_rows_bytes'] / 1048576:.1f} MiB of JSON in all) to find the rows that changed and "
        f"writes those, before each action and after each change of any region, and at every health "
        f"check of every region: {d['saves']:.0f} saves at {d['save_cpu_each_ms']:.0f} ms of CPU each "
        f"are {d['save_share']:.0f} % of the controller's CPU; the loop's tick takes the active "
        f"rollouts from the store's kept records ({d['load_cpu_each_ms']:.0f} ms of CPU per 100 ms "
        f"tick, {d['load_share']:.0f} %). The engine loop's thread needed {d['loop_per_sim_s']:.0f} ms "
        "of CPU per simulated second; above 1000 ms a real controller cannot keep the policy's pace "
        "(its ticks, health checks and steps stretch). Whatever the waits, while the regions are in "
        f"verifying, shifting or baking it needs about {d['regions']:.0f} health-check saves a second x "
        f"{d['save_cpu_each_ms']:.0f} ms + 10 reloads x {d['load_cpu_each_ms']:.0f} ms = "
        f"**{d['sustained_ms'] / 1000:.1f} s of CPU per second** on that one thread.")
    notes.append(
        f"`rollout status` holds the store mutex for the whole read (the SQL and the JSON parse of the "
        f"record happen inside `load_one`'s lock), {d['status_p50_ms']:.0f} ms at the median at 10,000 "
        "servers, so each call delays the engine's next save by as much: the gap between save wall "
        "time and save CPU is that waiting plus the fsyncs. The wall times are on a shared 2-core "
        "machine with the status reader polling continuously.")
notes.append("`rollout status` is measured in-process: `StoreRecords::load_one` + `detail_json().dump()` "
             "under the store mutex the engine uses, as `GET /v1/rollouts/{id}` does, polled every ~10 ms "
             "from a second thread; it excludes TLS and HTTP.")
notes.append("Not measured here: the servers table (the fleet is a fake, so store size is the rollout "
             "records, the audit log and the outbox), real agents' TLS, HAProxy. A fleet policy allows at "
             "most 100 servers per region (`servers: 1..100`), so 10,000 servers in 50 regions cannot be "
             "written in a policy today; the benchmark builds its policy in code.")
def first_step(per, full_weight=256, percent=10):
    # Engine::weights: each server's share of full_weight, at least 1.
    fresh = max(1, percent * full_weight // 100 // per)
    old = max(1, (100 - percent) * full_weight // 100 // per)
    return 100.0 * fresh / (fresh + old)
for n in sizes:
    per = int(D[n]["per_region"])
    share = first_step(per)
    if share > 15:
        notes.append(f"At {per} servers per region the 10 % canary step puts {share:.0f} % of the "
                     "traffic on the new servers: `Options::full_weight` (256) spread over "
                     f"{2 * per} servers leaves each at weight 1 (Engine::weights).")
for f in failed:
    notes.append(f"FAILED run at {f['servers']:,} servers: {f['error']}")
md.append("\n\n".join(notes))
md.append("")
with open(3, "w") as out:
    out.write("\n".join(md) + "\n")
print()
for n in notes[:3]:
    print("  " + n.replace("**", ""))
PY
}

bench_scale() {
  local runs=3 sizes=(1000 10000)
  [ "$quick" = 1 ] && runs=1
  local bin="$build/bench/scale/pw_bench_scale"
  echo "== scale: simulated fleets of ${sizes[*]} servers in 50 regions, $runs run(s) each"
  local d="$work/scale"
  mkdir -p "$d"
  : >"$d/runs.jsonl"
  local i n t0 t1
  for i in $(seq "$runs"); do
    for n in "${sizes[@]}"; do
      rm -rf "$d/run"
      t0=$(date +%s)
      if "$bin" --servers "$n" --regions 50 --dir "$d/run" >"$d/out.json" 2>"$d/err.txt"; then
        cat "$d/out.json" >>"$d/runs.jsonl"
      else
        python3 -c 'import json, sys; print(json.dumps({"servers": int(sys.argv[1]), "error": open(sys.argv[2]).read().strip()}))' \
          "$n" "$d/err.txt" >>"$d/runs.jsonl"
      fi
      t1=$(date +%s)
      echo "  run $i, $n servers: $((t1 - t0)) s"
    done
  done
  rm -rf "$d/run"
  scale_report "$d/runs.jsonl" "$quick" "$runs" 3>>"$results"
}
