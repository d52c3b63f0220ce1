# The `patch` benchmark of scripts/bench, which sources this file and calls bench_patch (it
# uses $root, $work, $PW, $AGENT, $quick, $results and the cleanup list on_exit).
#
# Time to patch, Patchwave against an Ansible playbook: a fleet of N servers on this
# machine in 5 regions (N/5 each), every server running demo-service 1.0.0 behind one
# HAProxy backend per region, under the same light load; then the fix 1.0.1, from the
# signed release to 100 % of every region's traffic on 1.0.1.
#
#   Patchwave: the real controller (`patchwave serve`) with the local provider and its
#     managed HAProxy, set up as scripts/bench-rollout.sh does. Timed from `release
#     publish` (1.0.1 is added and signed before; publishing, `patchwave sync` and
#     `rollout start` are inside the time) to the first `show stat` in which no 1.0.0
#     server of any backend takes traffic and every backend has its N/5 new servers; and
#     to the rollout's end (old servers retired). All regions in one wave,
#     `rollout.max_parallel: 5`, no approvals (threshold 0: machine time only), 1
#     passing health check, `canary_steps: [100]` (one switch, as the playbook's), the
#     shortest waits the policy allows (step_wait 1s, bake_time 1s).
#   Ansible: bench/ansible/patch.yml with Debian's ansible, `-c local`, forks 10, on N
#     hosts that are directories and loopback addresses like the local provider's, with
#     HAProxy (the same binary and global/defaults) from bench/ansible/haproxy.cfg.j2:
#     copy + sha256, unpack, start on the other blue/green port, wait for /healthz, switch
#     HAProxy through its runtime API, stop the old service. Timed from the start of
#     ansible-playbook to the same `show stat` condition, and to the playbook's end.
#
# Both sides: examples/demo-service packed by its package.sh, the same /healthz, the same
# load (bench/ansible/measure.py load, 25 requests a second per region: Patchwave's
# analysis needs requests on the new servers), the same watcher (measure.py watch). The
# controller's overhead per server is its CPU time (utime + stime, /proc/PID/stat) from
# `release publish` to the rollout's end, divided by N.
#
# Full form: N = 10, 50, 100, 3 runs each (medians; each run sets both sides up from
# nothing, alternating which goes first), plus one Patchwave run at N = 50 with the
# default canary steps 10/50/100 %. --quick: N = 10 and 50, 1 run each, and the canary-steps
# run at N = 10. PW_PATCH_SIZES="10 50" and PW_PATCH_RUNS=1 choose other sizes (multiples
# of 5) and run counts.

# Regions: the local provider puts a region's servers on 127.R.S.N, R = 1 + FNV-1a-32(name)
# % 254. These names give R = 188, 91, 248, 165, 68; the Ansible side's hosts use R below.
# Neither may be the R of the tests' or the other benchmarks' regions, which may run
# beside this one (checked by patch_check_addresses).
patch_regions=(patch-a patch-b patch-c patch-d patch-e)
patch_ansible_r=(120 121 122 123 124)
patch_taken_r="85 18 26 201 33 168 31 11 66 112 52 131 245 81 1 41 77 82 7 9 87 0"
patch_service_port=18481  # Patchwave's; the Ansible side's slots are 18491 (blue), 18492 (green)
patch_rate=25             # requests a second per region, on both sides
patch_ctl=""
patch_pids=()
patch_profile=0
patch_busy_before=0

# patch_stop_all DIR: every process started under DIR, by pid: load and watchers
# (patch_pids), the controller, then whatever names DIR/ in its command line (HAProxy,
# the agents, the services of both sides, ansible-playbook's modules), TERM then KILL.
patch_stop_all() {
  local d=$1 p
  for p in "${patch_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${patch_pids[@]}"; do
    for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  patch_pids=()
  if [ -n "$patch_ctl" ]; then
    kill "$patch_ctl" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$patch_ctl" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$patch_ctl" 2>/dev/null || true
    patch_ctl=""
  fi
  local pass
  for pass in TERM KILL; do
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      { [ "$p" = $$ ] || [ "$p" = "$BASHPID" ]; } && continue
      { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF "$d/" && kill -s "$pass" "$p" 2>/dev/null || true
    done
    [ "$pass" = TERM ] && sleep 1
  done
  wait 2>/dev/null || true
}

# patch_region_numbers: R of each of patch_regions, as the local provider computes it.
patch_region_numbers() {
  python3 - "${patch_regions[@]}" <<'PY'
import sys
for name in sys.argv[1:]:
    h = 2166136261
    for b in name.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    print(1 + h % 254)
PY
}

# patch_check_addresses: no R twice, none of the other tests' and benchmarks'.
patch_check_addresses() {
  local all r dup
  all="$(patch_region_numbers) ${patch_ansible_r[*]}"
  dup=$(echo $all | tr ' ' '\n' | sort | uniq -d)
  [ -z "$dup" ] || { echo "bench: region number $dup used twice"; exit 1; }
  for r in $all; do
    case " $patch_taken_r " in *" $r "*) echo "bench: 127.$r.x.x is another test's"; exit 1 ;; esac
  done
}

# patch_left_listening: sockets still listening on this benchmark's addresses, if any.
patch_left_listening() {
  local pattern="" a
  for a in $(patch_region_numbers) "${patch_ansible_r[@]}"; do pattern+="${pattern:+|}127\\.$a\\."; done
  ss -Htln | grep -E "$pattern" || true
}

# (In the background it is started as python3 itself, not through this function, so that $!
# is its pid and not a subshell's.)
patch_measure() { python3 "$root/bench/ansible/measure.py" "$@"; }

# patch_busy: "busy total" jiffies of the whole machine (/proc/stat), to tell how loaded
# it was during a run (busy = everything but idle and iowait).
patch_busy() { awk '/^cpu / {t=0; for (i=2;i<=NF;i++) t+=$i; print t-$5-$6, t}' /proc/stat; }

# patch_quiet: waits until the machine is quiet (at most 0.5 busy cores over 2 s, this
# benchmark's own load included) or 10 minutes have passed, since other work on this shared
# machine would be timed too (Ansible's side uses both cores); sets patch_busy_before.
patch_quiet() {
  local i b0 b1
  for i in $(seq 120); do
    b0=$(patch_busy); sleep 2; b1=$(patch_busy)
    patch_busy_before=$(echo "$b0 $b1" | awk -v n="$(nproc)" '{printf "%.2f", ($3 - $1) / ($4 - $2) * n}')
    [ "$(echo "$patch_busy_before <= 0.5" | bc -l)" = 1 ] && return 0
    [ "$i" = 1 ] && echo "  (waiting for the machine to be quiet: $patch_busy_before cores busy)"
    sleep 3
  done
  echo "  (the machine stayed busy, $patch_busy_before cores: measuring anyway)"
}

# patch_load_start OUT PORT...: the light load on those frontends (background).
patch_load_start() {
  local out=$1 urls=() p; shift
  for p in "$@"; do urls+=(--url "http://127.0.0.1:$p/"); done
  python3 "$root/bench/ansible/measure.py" load "${urls[@]}" --rate "$patch_rate" --out "$out" &
  patch_load=$!; patch_pids+=("$patch_load")
  sleep 1
}
# patch_load_stop OUT: stops the load; its summary must be in OUT.
patch_load_stop() {
  kill -TERM "$patch_load"
  for _ in $(seq 100); do kill -0 "$patch_load" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$patch_load" 2>/dev/null || true
  wait "$patch_load" || true
  [ -f "$1" ] || { echo "bench: the load generator wrote no summary ($1)"; exit 1; }
}

# patch_watch_start DIR SOCKET PER_BACKEND [DB]: the watcher (background), once it knows
# the old servers.
patch_watch_start() {
  local d=$1 backends; backends=$(printf 'app_%s,' "${patch_regions[@]}")
  rm -f "$d/watch.stop" "$d/watch.ready"
  python3 "$root/bench/ansible/measure.py" watch --socket "$2" --backends "${backends%,}" \
    --per-backend "$3" --out "$d/watch.json" --stop "$d/watch.stop" --ready "$d/watch.ready" \
    ${4:+--db "$4"} &
  patch_watcher=$!; patch_pids+=("$patch_watcher")
  for _ in $(seq 200); do [ -f "$d/watch.ready" ] && return 0; sleep 0.05; done
  echo "bench: the watcher did not start"; exit 1
}
patch_watch_stop() { touch "$1/watch.stop"; wait "$patch_watcher" || true; }

patch_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# patch_switched FILE: whether the watcher saw all the traffic on the new version.
patch_switched() {
  [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["switched"] is not None)' "$1")" = True ]
}

# --- Patchwave ------------------------------------------------------------------------

# patch_pw_setup N STEPS: in the current directory, keys, the manifests repository with
# the fleet policy and release 1.0.0, and the controller with its HAProxy; 1.0.0 rolled
# out to every region (not timed). Sets patch_ctl, patch_fronts (the frontends' ports),
# patch_pw_env (the operator's environment for the CLI).
patch_pw_setup() {
  local n=$1 steps=$2 d k r; d=$(pwd)
  for k in root targets online approver; do "$PW" key generate --out "keys/$k" >/dev/null 2>&1; done
  "$PW" repo init repo --root-key keys/root.pub --targets-key keys/targets.pub \
    --snapshot-key keys/online.pub --timestamp-key keys/online.pub >/dev/null
  "$PW" release sign repo --key keys/root >/dev/null
  {
    echo "version: 1"
    echo "defaults:"
    echo "  servers: $((n / ${#patch_regions[@]}))"
    echo "  canary_steps: [$steps]"
    echo "  health_successes: 1"
    echo "  step_wait: 1s"
    echo "  bake_time: 1s"
    echo "  failure_policy: halt"
    echo "  max_error_rate: 1.0"
    echo "regions:"
    for r in "${patch_regions[@]}"; do
      echo "  - {name: $r, wave: 1, provider: {kind: local}, backend: app_$r,"
      echo "     approvers: {threshold: 0, keys: [$(cat keys/approver.pub)]}}"
    done
  } >fleet.yaml
  "$PW" release add repo fleet.yaml --name fleet/policy.yaml >/dev/null
  patch_pw_add 1.0.0
  "$PW" release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null

  local cport frontends=""
  cport=$(free_port); patch_fronts=()
  for r in "${patch_regions[@]}"; do
    patch_fronts+=("$(free_port)")
    frontends+="${frontends:+, }$r: 127.0.0.1:${patch_fronts[-1]}"
  done
  cat >controller.yaml <<YAML
state_dir: $d/state
listen: 127.0.0.1:$cport
manifests: {repository: $d/repo@HEAD, root: $d/repo/metadata/1.root.json, sync_interval: 1h}
audit: {checkpoint_interval: 1h}
agent_binary: $AGENT
traffic:
  frontends: {$frontends}
rollout: {provision_timeout: 300s, stage_timeout: 300s, health_timeout: 120s, min_requests: 10,
          inconclusive_grace: 30s, max_parallel: 5}
YAML
  "$PW" serve --config controller.yaml --log-format json 2>>controller.log &
  patch_ctl=$!
  for _ in $(seq 300); do grep -q '"event":"haproxy_started"\|"event":"sync_refused"' controller.log && break; sleep 0.1; done
  grep -q '"event":"synced"' controller.log && grep -q '"event":"haproxy_started"' controller.log ||
    { echo "bench: the controller did not sync and start HAProxy"; tail -20 controller.log; exit 1; }
  "$PW" ca issue-operator --dir state/ca --name bench --role release-engineer --out bench >/dev/null
  patch_pw_env=(PATCHWAVE_CONTROLLER="https://127.0.0.1:$cport" PATCHWAVE_CA="$d/state/ca/ca.pem"
                PATCHWAVE_CERT="$d/bench.crt" PATCHWAVE_KEY="$d/bench.key")
  local id state
  id=$(patch_pw_start 1.0.0)
  state=$(patch_measure wait --db state/store.db --rollout "$id" --pid "$patch_ctl")
  [ "$state" = succeeded ] || { echo "bench: the first rollout (1.0.0, $n servers): $state"; tail -5 controller.log; exit 1; }
}

# patch_pw_add VERSION: the release added and signed by the targets key (not published).
patch_pw_add() {
  "$PW" release add repo "$patch_dist/demo-service-$1.tar.gz" --app demo-service --version "$1" \
    --run 'bin/demo-service --host {host} --port {port}' \
    --health "http:$patch_service_port/healthz" --health-successes 1 >/dev/null
  "$PW" release sign repo --key keys/targets >/dev/null
}

# patch_pw_start VERSION: `rollout start` to every region; prints the rollout's id.
patch_pw_start() {
  env "${patch_pw_env[@]}" "$PW" rollout start "demo-service@$1" --output json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# patch_pw_run N RUN STEPS LABEL: one measured Patchwave run; writes DIR/result.json.
patch_pw_run() {
  local n=$1 run=$2 steps=$3 d="$patch_dir/pw-$4-$1-$2"
  mkdir -p "$d" && cd "$d"
  patch_pw_setup "$n" "$steps"
  patch_pw_add 1.0.1
  # The controller's cost with no rollout (its engine loop ticks every 100 ms).
  local c0 c1 idle_s=3 idle_ms_per_s
  c0=$(patch_measure cpu --pid "$patch_ctl"); sleep "$idle_s"; c1=$(patch_measure cpu --pid "$patch_ctl")
  idle_ms_per_s=$(echo "($c1 - $c0) * 1000 / $patch_clk / $idle_s" | bc -l)
  patch_load_start "$d/load.json" "${patch_fronts[@]}"
  patch_watch_start "$d" "$d/state/haproxy/admin.sock" $((n / ${#patch_regions[@]})) "$d/state/store.db"

  local cpu0 cpu1 busy0 busy1 t0 t_pub t_sync t_start t_end id state
  patch_quiet
  cpu0=$(patch_measure cpu --pid "$patch_ctl"); busy0=$(patch_busy)
  t0=$(patch_now_ms)
  "$PW" release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null
  t_pub=$(patch_now_ms)
  env "${patch_pw_env[@]}" "$PW" sync >/dev/null
  t_sync=$(patch_now_ms)
  id=$(patch_pw_start 1.0.1)
  t_start=$(patch_now_ms)
  # In the background, so that a signal to the benchmark interrupts the wait.
  python3 "$root/bench/ansible/measure.py" wait --db state/store.db --rollout "$id" \
    --pid "$patch_ctl" >wait.out &
  wait $!
  t_end=$(patch_now_ms); busy1=$(patch_busy); cpu1=$(patch_measure cpu --pid "$patch_ctl")
  state=$(cat wait.out)
  sleep 0.2
  patch_watch_stop "$d"
  patch_load_stop "$d/load.json"
  [ "$state" = succeeded ] || { echo "bench: the rollout of 1.0.1 ($n servers): $state"; tail -5 controller.log; exit 1; }
  python3 - "$d" "$id" <<PY
import json, sys
d, rollout = sys.argv[1], sys.argv[2]
w = json.load(open(d + "/watch.json"))
b0, t0_, b1, t1_ = map(int, "$busy0 $busy1".split())
json.dump({"side": "patchwave", "n": $n, "run": $run, "steps": "$steps", "rollout": rollout,
           "t0": $t0, "published": $t_pub, "synced": $t_sync, "started": $t_start,
           "ended": $t_end, "switched": w["switched_at_ms"], "switched_after": w["switched_after_ms"],
           "cpu_ms": ($cpu1 - $cpu0) * 1000.0 / $patch_clk, "idle_cpu_ms_per_s": $idle_ms_per_s,
           "busy_cores": (b1 - b0) / max(1, t1_ - t0_) * $(nproc), "busy_before": $patch_busy_before,
           "load": json.load(open(d + "/load.json")), "poll": w["poll"],
           "regions": w["states"].get(rollout, {})}, open(d + "/result.json", "w"))
PY
  patch_switched "$d/result.json" || { echo "bench: the watcher never saw all the traffic on 1.0.1"; exit 1; }
  patch_stop_all "$d"
  cd "$patch_dir"
}

# --- Ansible --------------------------------------------------------------------------

# patch_ansible NAME ARGS...: ansible-playbook of bench/ansible, its output to NAME.log;
# when patch_profile=1 with the callback profile_tasks (each task's time, at the end) and
# its CPU time in ansible.cpu.
patch_ansible() {
  local log=$1 callbacks="" timed=(); shift
  # The CPU time of ansible-playbook and every process it waited for (forks, modules):
  # what it needs whatever else runs on the machine.
  if [ "$patch_profile" = 1 ]; then
    callbacks=ansible.posix.profile_tasks
    timed=(/usr/bin/time -f '%U %S' -o "$PWD/ansible.cpu")
  fi
  ANSIBLE_CONFIG="$root/bench/ansible/ansible.cfg" ANSIBLE_HOME="$PWD/.ansible" \
    ANSIBLE_LOCAL_TEMP="$PWD/.ansible/tmp" ANSIBLE_REMOTE_TEMP="$PWD/.ansible/tmp" \
    ANSIBLE_CALLBACKS_ENABLED="$callbacks" PROFILE_TASKS_SORT_ORDER=none \
    "${timed[@]}" ansible-playbook -f 10 -i inventory.yml "$@" >"$log.log" 2>&1
}

# patch_ansible_deploy LOG VERSION NEW_SLOT OLD_SLOT: patch.yml with that release.
patch_ansible_deploy() {
  local artifact="$patch_dist/demo-service-$2.tar.gz"
  patch_ansible "$1" "$root/bench/ansible/patch.yml" -e "version=$2" -e "new_slot=$3" \
    -e "old_slot=$4" -e "artifact=$artifact" -e "artifact_sha256=${patch_sha[$2]}"
}

# patch_ansible_run N RUN: one measured Ansible run; writes DIR/result.json.
patch_ansible_run() {
  local n=$1 run=$2 d="$patch_dir/ansible-$1-$2"
  mkdir -p "$d" && cd "$d"
  local args=() i fronts=()
  for i in "${!patch_regions[@]}"; do
    fronts+=("$(free_port)")
    args+=(--region "${patch_regions[$i]}=${patch_ansible_r[$i]}"
           --frontend "${patch_regions[$i]}=127.0.0.1:${fronts[-1]}")
  done
  python3 "$root/bench/ansible/inventory.py" --servers "$n" "${args[@]}" --work "$d" \
    --haproxy-socket "$d/haproxy.sock" >inventory.yml
  patch_ansible setup "$root/bench/ansible/setup.yml" -e "haproxy_config=$d/haproxy.cfg" ||
    { echo "bench: ansible setup.yml failed"; tail -20 setup.log; exit 1; }
  haproxy -db -f "$d/haproxy.cfg" >haproxy.log 2>&1 &
  for _ in $(seq 100); do [ -S haproxy.sock ] && break; sleep 0.05; done
  [ -S haproxy.sock ] || { echo "bench: the Ansible side's HAProxy did not start"; cat haproxy.log; exit 1; }
  patch_ansible_deploy deploy-1.0.0 1.0.0 blue none ||
    { echo "bench: ansible deployment of 1.0.0 failed"; tail -20 deploy-1.0.0.log; exit 1; }
  patch_load_start "$d/load.json" "${fronts[@]}"
  patch_watch_start "$d" "$d/haproxy.sock" $((n / ${#patch_regions[@]}))

  local busy0 busy1 t0 t_end rc=0
  patch_quiet
  busy0=$(patch_busy); t0=$(patch_now_ms)
  patch_profile=1
  patch_ansible_deploy patch-1.0.1 1.0.1 green blue || rc=$?
  patch_profile=0
  t_end=$(patch_now_ms); busy1=$(patch_busy)
  sleep 0.2
  patch_watch_stop "$d"
  patch_load_stop "$d/load.json"
  [ "$rc" = 0 ] || { echo "bench: ansible patch.yml of 1.0.1 failed ($rc)"; tail -30 patch-1.0.1.log; exit 1; }
  python3 - "$d" <<PY
import json, re, sys
d = sys.argv[1]
w = json.load(open(d + "/watch.json"))
log = open(d + "/patch-1.0.1.log").read()
b0, t0_, b1, t1_ = map(int, "$busy0 $busy1".split())
# profile_tasks' summary: "Task name ---- 1.23s"
tasks = re.findall(r"^(\S.*?) -{3,} (\d+\.\d+)s$", log.split("=" * 20)[-1], re.M)
json.dump({"side": "ansible", "n": $n, "run": $run, "t0": $t0, "ended": $t_end,
           "switched": w["switched_at_ms"], "switched_after": w["switched_after_ms"],
           "busy_cores": (b1 - b0) / max(1, t1_ - t0_) * $(nproc), "busy_before": $patch_busy_before,
           "cpu_s": sum(map(float, open(d + "/ansible.cpu").read().split()[-2:])),
           "health_retries": log.count("FAILED - RETRYING"),
           "tasks": [[name, float(s)] for name, s in tasks],
           "load": json.load(open(d + "/load.json")), "poll": w["poll"]},
          open(d + "/result.json", "w"))
PY
  patch_switched "$d/result.json" ||
    { echo "bench: the watcher never saw all the Ansible side's traffic on 1.0.1"; exit 1; }
  patch_stop_all "$d"
  cd "$patch_dir"
}

# --- figures --------------------------------------------------------------------------

# patch_figures: the table and notes (markdown) from every DIR/*/result.json.
patch_figures() {
  python3 - "$patch_dir" "$patch_rate" <<'PY'
import glob, json, os, statistics, sys
rate = int(sys.argv[2])
results = [json.load(open(p)) for p in sorted(glob.glob(sys.argv[1] + "/*/result.json"))]
pw = [r for r in results if r["side"] == "patchwave" and r["steps"] == "100"]
ans = [r for r in results if r["side"] == "ansible"]
extra = [r for r in results if r["side"] == "patchwave" and r["steps"] != "100"]
med = statistics.median
cores = os.cpu_count()
def s(ms): return ms / 1000.0
def verdict(ok): return "met" if ok else "**MISSED**"
out = []
out.append("| N servers (5 regions) | runs | Patchwave: to 100 % of traffic | Ansible: to 100 % of traffic | ratio | Patchwave: rollout finished | Ansible: playbook finished | ratio | controller CPU per server |")
out.append("|---|---|---|---|---|---|---|---|---|")
goals = []
for n in sorted({r["n"] for r in pw}):
    p = sorted((r for r in pw if r["n"] == n), key=lambda r: r["run"])
    a = sorted((r for r in ans if r["n"] == n), key=lambda r: r["run"])
    pairs = list(zip(p, a))
    sw_p = med([r["switched"] - r["t0"] for r in p]); sw_a = med([r["switched"] - r["t0"] for r in a])
    en_p = med([r["ended"] - r["t0"] for r in p]); en_a = med([r["ended"] - r["t0"] for r in a])
    ratio_sw = med([(y["switched"] - y["t0"]) / (x["switched"] - x["t0"]) for x, y in pairs])
    ratio_en = med([(y["ended"] - y["t0"]) / (x["ended"] - x["t0"]) for x, y in pairs])
    cpu = med([r["cpu_ms"] / n for r in p])
    out.append("| %d | %d | %.1f s | %.1f s | **%.1fx** | %.1f s | %.1f s | %.1fx | **%.1f ms** |" % (
        n, len(pairs), s(sw_p), s(sw_a), ratio_sw, s(en_p), s(en_a), ratio_en, cpu))
    goals.append((n, ratio_sw, ratio_en, cpu))
out.append("")
for n, ratio_sw, ratio_en, cpu in goals:
    line = "N = %d: Patchwave %.1fx faster to 100 %% of the traffic, %.1fx to the end" % (n, ratio_sw, ratio_en)
    if n == 50:
        line += " (goal >= 10x at N = 50: %s)" % verdict(ratio_sw >= 10)
    line += "; controller CPU %.1f ms per server (goal <= 10 ms: %s)." % (cpu, verdict(cpu <= 10))
    out.append("- " + line)
if not any(n == 50 for n, *_ in goals):
    out.append("- N = 50 was not measured: the 10x goal is not judged.")
out.append("")

order = ["provisioning", "staging", "verifying", "shifting", "baking", "finalizing", "succeeded"]
def timeline(r):
    t0 = r["t0"]
    parts = ["publish %.2f s, sync %.2f s, rollout start %.2f s" % (
        s(r["published"] - t0), s(r["synced"] - r["published"]), s(r["started"] - r["synced"]))]
    for st in order:
        ts = [v[st] for v in r["regions"].values() if st in v]
        if ts:
            parts.append("%s %.1f-%.1f s" % (st, s(min(ts) - t0), s(max(ts) - t0)))
    parts.append("100 %% of the traffic on 1.0.1 at %.1f s" % s(r["switched"] - t0))
    return "; ".join(parts)
def serial_note(r):
    # The engine advances the regions of a rollout one after another in one thread; when a
    # region's `start` held the loop for its agents' startup window (1 s; before the
    # controller started services in the background), regions in one wave reached
    # verifying one by one. Said only when it shows.
    ver = sorted(v["verifying"] for v in r["regions"].values() if "verifying" in v)
    shift = [v["shifting"] for v in r["regions"].values() if "shifting" in v]
    if len(ver) < 2 or not shift or s(ver[-1] - ver[0]) / (len(ver) - 1) < 0.5:
        return ""
    text = (" The regions entered verifying one after another, %.1f s apart (the engine starts"
            " a region's services, waiting for the agents' 1 s startup window, one region at a"
            " time in its single tick thread)" % (s(ver[-1] - ver[0]) / (len(ver) - 1)))
    if min(shift) >= ver[-1]:
        text += ("; the first region shifted traffic at %.1f s, only after the last had started:"
                 " %.1f s of the time to 100 %% is this wait" % (s(min(shift) - r["t0"]),
                                                                  s(ver[-1] - ver[0])))
    return text + "."
out.append("Where Patchwave's time goes (last run of each N; when the first and the last region entered each state, seconds after `release publish` began, from the controller's store polled every 20 ms):")
out.append("")
for n in sorted({r["n"] for r in pw}):
    r = [x for x in pw if x["n"] == n][-1]
    out.append("- N = %d: %s. Controller CPU %.0f ms in all (%.1f ms/s of it is its engine loop with no rollout); machine busy %.2f of %d cores.%s" % (
        n, timeline(r), r["cpu_ms"], r["idle_cpu_ms_per_s"], r["busy_cores"], cores, serial_note(r)))
out.append("")
out.append("Where Ansible's time goes (last run of each N; profile_tasks, each task over all hosts, forks 10):")
out.append("")
for n in sorted({r["n"] for r in ans}):
    r = [x for x in ans if x["n"] == n][-1]
    tasks = ", ".join("%s %.1f s" % (name, sec) for name, sec in r["tasks"])
    out.append("- N = %d: %s; %.1f s in all; health check retries %d. Ansible's own CPU time (ansible-playbook and the processes it waited for) %.1f s, i.e. at least %.1f s on %d cores; the machine was busy %.2f cores." % (
        n, tasks, s(r["ended"] - r["t0"]), r["health_retries"], r["cpu_s"], r["cpu_s"] / cores,
        cores, r["busy_cores"]))
out.append("")
def load_text(rs):
    req = sum(r["load"]["requests"] for r in rs)
    bad = sum(r["load"]["requests"] - r["load"]["ok"] for r in rs)
    text = "%d requests, %d failed" % (req, bad)
    for r in rs:
        l = r["load"]
        if l["requests"] != l["ok"]:
            text += " (N = %d run %d%s: status %s, %d connection errors%s)" % (
                r["n"], r["run"], "" if r.get("steps", "100") == "100" else ", steps " + r["steps"],
                l["by_status"] or "-", l["connection_errors"],
                "; " + l["error_samples"][0] if l["error_samples"] else "")
    return text
out.append("Requests during the timed part (all runs, %d a second per region): Patchwave %s; Ansible %s." % (
    rate, load_text(pw + extra), load_text(ans)))
for r in extra:
    out.append("")
    out.append("With the default canary steps %s %% (one run, N = %d): %.1f s to 100 %% of the traffic, %.1f s to the end; controller CPU %.1f ms per server. %s." % (
        r["steps"].replace(", ", "/"), r["n"], s(r["switched"] - r["t0"]), s(r["ended"] - r["t0"]),
        r["cpu_ms"] / r["n"], timeline(r)))
busy = [r for r in results if r["busy_before"] > 0.5]
if busy:
    out.append("")
    out.append("**Noisy:** %d timed part(s) began with the machine busier than 0.5 cores (other work; up to %.2f cores)." % (
        len(busy), max(r["busy_before"] for r in busy)))
print("\n".join(out))
PY
}

bench_patch() {
  local sizes=(10 50 100) runs=3
  [ "$quick" = 1 ] && sizes=(10 50) runs=1
  [ -n "${PW_PATCH_SIZES:-}" ] && read -r -a sizes <<<"$PW_PATCH_SIZES"
  runs=${PW_PATCH_RUNS:-$runs}
  echo "== patch: time to patch, Patchwave against Ansible; N = ${sizes[*]}, $runs run(s) each"
  command -v ansible-playbook >/dev/null || { echo "bench: ansible-playbook is missing (scripts/install-deps)"; exit 1; }
  patch_dir="$work/patch"
  mkdir -p "$patch_dir" && cd "$patch_dir"
  source "$root/tests/integration/agent/pki.sh"  # free_port
  export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
  export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid
  on_exit+=("patch_stop_all $patch_dir")
  patch_check_addresses
  patch_clk=$(getconf CLK_TCK)
  # The same release tarballs for both sides, byte for byte.
  patch_dist="$patch_dir/dist"
  "$root/examples/demo-service/package.sh" "$patch_dist" >/dev/null
  declare -gA patch_sha
  local v n run
  for v in 1.0.0 1.0.1; do patch_sha[$v]=$(sha256sum "$patch_dist/demo-service-$v.tar.gz" | cut -d' ' -f1); done

  for n in "${sizes[@]}"; do
    for run in $(seq "$runs"); do
      # Alternate which side goes first: neither always gets the warmer caches.
      if [ $((run % 2)) = 1 ]; then
        patch_pw_run "$n" "$run" 100 main; patch_ansible_run "$n" "$run"
      else
        patch_ansible_run "$n" "$run"; patch_pw_run "$n" "$run" 100 main
      fi
      python3 - "$patch_dir" "$n" "$run" <<'PY'
import json, sys
d, n, run = sys.argv[1:4]
p = json.load(open("%s/pw-main-%s-%s/result.json" % (d, n, run)))
a = json.load(open("%s/ansible-%s-%s/result.json" % (d, n, run)))
f = lambda r, k: (r[k] - r["t0"]) / 1000.0
print("  N=%s run %s: Patchwave %.1f s to 100 %% (%.1f s to the end), Ansible %.1f s (%.1f s), ratio %.1fx; controller CPU %.1f ms/server" % (
    n, run, f(p, "switched"), f(p, "ended"), f(a, "switched"), f(a, "ended"),
    f(a, "switched") / f(p, "switched"), p["cpu_ms"] / int(n)))
PY
    done
  done
  # Patchwave on its default path, canary steps 10/50/100 % (with an analysis after each).
  local steps_n=50; [ "$quick" = 1 ] && steps_n=10
  patch_pw_run "$steps_n" 1 "10, 50, 100" steps
  echo "  N=$steps_n with canary steps 10/50/100 %: done"

  local table left
  table=$(patch_figures)
  echo "$table" | sed 's/^/  /'
  left=$(patch_left_listening)
  [ -z "$left" ] || echo "bench: still listening after the benchmark: $left"
  {
    echo "### patch: time to patch, Patchwave against an Ansible playbook"
    echo
    echo "Command: \`scripts/bench$([ "$quick" = 1 ] && echo " --quick") patch\` ($runs run(s) per N, medians; ratios are per run, Ansible's time over Patchwave's, median over the runs; both sides set up from nothing in every run, alternating which goes first). $(ansible-playbook --version 2>/dev/null | sed -n 1p), $(haproxy -v | sed -n '1s/^\(HAProxy version [^ ]*\).*/\1/p')."
    echo
    echo "N servers on this machine in 5 regions (N/5 each), each running demo-service 1.0.0 (examples/demo-service, packed by its package.sh) behind one HAProxy backend per region, under $patch_rate requests a second per region; then 1.0.1. **Patchwave**: the controller with the local provider (a fresh server per server: new directory, new agent, enrollment over mutual TLS) and its managed HAProxy; all regions in wave 1, \`rollout.max_parallel: 5\`; **no approvals** (threshold 0: machine time only, no person); \`canary_steps: [100]\`, i.e. a single switch like the playbook's (the equivalent minimum; the health gate and the analysis after the step still run), 1 passing health check, \`step_wait: 1s\`, \`bake_time: 1s\` (the shortest the policy allows). Timed from \`release publish\` of the already signed 1.0.1 (publish, \`patchwave sync\` and \`rollout start\` are in the time). **Ansible**: [bench/ansible/patch.yml](../bench/ansible/README.md), \`ansible-playbook -c local -f 10\` (forks 10), N inventory hosts on their own loopback addresses; copy + sha256 (get_url), unpack (file + unarchive), start on the other blue/green port, \`uri\` on /healthz until 200, switch HAProxy over its runtime API (socat), stop the old service; timed from the start of ansible-playbook. \"To 100 % of traffic\": the first HAProxy \`show stat\` (polled every 10 ms, the same watcher for both) in which no 1.0.0 server takes traffic and every backend has its N/5 new servers. \"Finished\": the rollout's state \`succeeded\` (old servers retired) / the playbook's exit. Controller CPU: utime + stime of \`patchwave serve\` from \`release publish\` to the rollout's end, over N (goal <= 10 ms; it excludes the services' own start and the agents, but includes its engine loop during the configured waits)."
    echo
    echo "$table"
    echo
    echo "Security checks per server. Patchwave: TUF metadata of root, targets, snapshot and timestamp with their signature thresholds, versions and expiry, by the controller on sync and again by each agent against its own pinned root; the artifact's sha256 and length by the controller and again by each agent while it downloads; hostile-archive checks before extraction (paths, links, devices, sizes); mutual TLS between controller and agents, agents enrolled with one-time tokens onto fresh servers; the health gate by the agent and by the controller; the traffic analysis after the step (error rate and latency against the old servers) with automatic rollback; a hash-chained audit log. Ansible: one sha256 of the artifact against a checksum passed on the command line (and a health check)."
    echo
  } >>"$results"
  cd "$root"
}
