# kill -9 the controller in every phase of a rollout, restart it on the same store, and
# the rollout goes on: it finishes (or, for a broken release, rolls back) with no server
# leaked, the audit chain intact, and - because the HAProxy the controller left running
# is taken over, not replaced - not one request lost by the clients meanwhile.
#   rollout_crash.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"
source "$here/rollout_lib.sh"

setup_rollouts cr:1  # its own loopback addresses: other tests may run meanwhile
release 1.0.0
BW=${FRONT[cr]}
check "the controller starts" start_controller
operators
check "first rollout of 1.0.0" pw rollout start demo-service@1.0.0
check "... succeeds" timeout 120 "$PW_BIN" rollout status "$(latest_rollout)" --watch

# wait_state STATE...: waits (reading the store directly, every few ms) until the newest
# region record is in one of those states; prints it.
wait_state() {
  python3 - "$@" <<'PY'
import sqlite3, sys, time
wanted = set(sys.argv[1:])
deadline = time.time() + 90
while time.time() < deadline:
    try:
        db = sqlite3.connect('state/store.db', timeout=1)
        row = db.execute("SELECT state FROM rollout_regions ORDER BY rowid DESC LIMIT 1").fetchone()
        db.close()
    except sqlite3.Error as e:
        print(e, file=sys.stderr)
        row = None
    if row and row[0] in wanted:
        print(row[0]); sys.exit(0)
    time.sleep(0.003)
sys.exit(1)
PY
}
# crash_restart PHASE [NEXT]: SIGKILL to the controller, then start it again on the same
# store. NEXT's poller starts while no controller runs, so even a short next phase is
# seen however quickly the new controller gets to it.
crash_restart() {
  kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true
  echo "killed in $1" >>kills.txt
  [ -n "${2:-}" ] && { rm -f "seen-$2"; wait_state "$2" >"seen-$2" & }
  start_controller
}
# kill_after STATE [NEXT]: once the poller for STATE has seen it, the controller is killed
# and restarted (with NEXT's poller).
kill_after() {
  for _ in $(seq 900); do [ -s "seen-$1" ] && { crash_restart "$1" "${2:-}"; return; }; sleep 0.1; done
  return 1
}

# --- a good release, with the controller killed in each phase --------------------------
release 1.0.1
check "sync 1.0.1" pw sync
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:$BW/" --concurrency 2 --out load.json &
LOAD=$!; PIDS+=($LOAD)
rm -f seen-provisioning; wait_state provisioning >seen-provisioning &
check "rollout start 1.0.1 under load" pw rollout start demo-service@1.0.1
RID=$(latest_rollout)
phases=(provisioning staging verifying shifting baking finalizing)
for i in "${!phases[@]}"; do
  check "kill -9 in ${phases[$i]}, restart" kill_after "${phases[$i]}" "${phases[$((i + 1))]:-}"
  check "... clients are still served" bash -c "curl -sS --max-time 5 http://127.0.0.1:$BW/ | grep -Eq '^demo-service 1[.]0[.][01]\$'"
done
check "the rollout still succeeds" timeout 120 "$PW_BIN" rollout status "$RID" --watch
kill -TERM $LOAD; wait $LOAD || true
check "the clients lost nothing through six crashes" python3 -c "
import json; d = json.load(open('load.json')); print(d['requests'], d['by_body'])
assert d['requests'] > 100 and d['connection_errors'] == 0 and not d['by_status'], d
assert d['by_body'].get('demo-service 1.0.1', 0) > 0, d"
check "the region serves 1.0.1" serves "$BW" 1.0.1
check "no server leaked: two serve, two agents run" leak_free 2
check "HAProxy was started once and taken over after each crash" test \
  "$(grep -c '"event":"haproxy_started"' controller.log)-$(grep -c '"event":"haproxy_adopted"' controller.log)" = "1-6"

# --- a broken release, killed while it is being judged and while it rolls back ----------
release 1.0.2 error-5xx
check "sync 1.0.2" pw sync
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:$BW/" --concurrency 2 --out load2.json &
LOAD=$!; PIDS+=($LOAD)
rm -f seen-shifting; wait_state shifting >seen-shifting &
check "rollout start 1.0.2" pw rollout start demo-service@1.0.2
RID2=$(latest_rollout)
check "kill -9 while shifting, restart" kill_after shifting rolling_back
check "kill -9 while rolling back, restart" kill_after rolling_back
TESTS=$((TESTS + 1))
code=0; timeout 120 "$PW_BIN" rollout status "$RID2" --watch >watch2.txt 2>&1 || code=$?
if [ "$code" = 1 ] && grep -q "rolled_back" watch2.txt; then echo "ok   ... it is rolled back"; else
  echo "FAIL ... exit $code"; tail -5 watch2.txt; FAILURES=$((FAILURES + 1)); fi
kill -TERM $LOAD; wait $LOAD || true
check "the region serves 1.0.1 again" serves "$BW" 1.0.1
check "no server leaked" leak_free 2
check "the audit chain is intact" pw audit verify
check "... and says where each crash left off" bash -c "[ \$(grep -c '^killed in' kills.txt) = 8 ]"
cat kills.txt | sed 's/^/     /'
finish
