# The rollout engine end to end with real parts: the controller, a real git manifests
# repository, real agents on their own loopback addresses (local provider), a real
# HAProxy the controller runs, and a real service (examples/demo-service/demo_service.py).
#  - a first rollout across three regions in two waves succeeds (regions ka, mu, ha: their
#    loopback addresses differ from the other tests', which may run at the same time);
#  - the next release replaces every server under continuous load without losing a
#    request;
#  - a release whose new servers answer 5xx is rolled back on its own (its failed answers
#    retried by HAProxy on the old servers: no client sees one), halting the later
#    wave; one that never becomes healthy is rolled back at the health gate;
#  - nothing leaks: every server is in service or decommissioned, no stray agent runs.
#   rollout_flow.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"
source "$here/rollout_lib.sh"

setup_rollouts ka:1 mu:2 ha:2
release 1.0.0
BW=${FRONT[ka]}; BY=${FRONT[mu]}; NW=${FRONT[ha]}
check "the controller starts and syncs" start_controller
check "... and runs HAProxy with a frontend per region" wait_log '"event":"haproxy_started"'
operators

# --- plan, then the first rollout into empty regions ---------------------------------
check "rollout plan" pw rollout plan demo-service@1.0.0
expect_out "... says nothing changed" "Nothing has been changed."
expect_out "... an empty region has nothing to retire" "retire: none (first deployment in this region)"
check "rollout plan --output json" pw rollout plan demo-service@1.0.0 --regions mu,ha --output json
cp "$WORK/out" plan.json
check "... one wave with mu and ha, two fresh servers each" python3 -c "
import json; p = json.load(open('plan.json')); w = p['waves']
assert [x['wave'] for x in w] == [2] and [r['region'] for r in w[0]['regions']] == ['mu', 'ha'], w
assert all(len(r['create']) == 2 for r in w[0]['regions'])"
check "... and changed nothing" test "$(pw rollout list --output json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rollouts"]))')" = 0
refuse "an unknown release is named" "demo-service@9.9.9: no verified release" pw rollout plan demo-service@9.9.9
refuse "an unknown region is named" "region 'xx' is not in the fleet policy" pw rollout plan demo-service@1.0.0 --regions xx
refuse "a viewer may not start a rollout" "HTTP 403" pw rollout start demo-service@1.0.0 --cert vera.crt --key vera.key

check "rollout start 1.0.0" pw rollout start demo-service@1.0.0
RID=$(latest_rollout)
refuse "a second rollout into the same regions is refused" "is in rollout $RID already" pw rollout start demo-service@1.0.0
check "the rollout succeeds in every region (status --watch exits 0)" timeout 180 "$PW_BIN" rollout status "$RID" --watch
for port in $BW $BY $NW; do check "the region's frontend :$port serves 1.0.0" serves "$port" 1.0.0; done
servers_in() { pw servers list --output json | python3 -c "
import json,sys; print(sum(1 for s in json.load(sys.stdin)['servers'] if s['state'] == '$1'))"; }
check "six servers in service" test "$(servers_in serving)" = 6

# --- the next release under continuous load: nothing lost ----------------------------
release 1.0.1
check "sync the new release" pw sync
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:$BW/" --url "http://127.0.0.1:$BY/" \
  --url "http://127.0.0.1:$NW/" --concurrency 3 --out load.json &
LOAD=$!; PIDS+=($LOAD)
sleep 1
check "rollout start 1.0.1 under load" pw rollout start demo-service@1.0.1
RID2=$(latest_rollout)
check "... succeeds" timeout 180 "$PW_BIN" rollout status "$RID2" --watch
sleep 1; kill -TERM $LOAD; wait $LOAD || true
check "no request was lost during the cutover (no errors, no non-2xx)" python3 -c "
import json; d = json.load(open('load.json')); print(d)
assert d['requests'] > 200, d
assert d['connection_errors'] == 0 and not d['by_status'] and d['ok'] == d['requests'], d
assert d['by_body'].get('demo-service 1.0.0', 0) > 0 and d['by_body'].get('demo-service 1.0.1', 0) > 0, d"
pw servers list --output json >servers2.json
check "the old servers are decommissioned, six new ones serve" python3 -c "
import json; s = json.load(open('servers2.json'))['servers']
assert sum(x['state'] == 'serving' and x['rollout'] == '$RID2' for x in s) == 6, s
assert sum(x['state'] == 'decommissioned' and x['rollout'] == '$RID' for x in s) == 6, s"
for port in $BW $BY $NW; do check "the frontend :$port serves 1.0.1" serves "$port" 1.0.1; done

# --- a broken release is rolled back on its own --------------------------------------
release 1.0.2 error-5xx
check "sync the broken release" pw sync
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:$BW/" --concurrency 2 --out load2.json &
LOAD=$!; PIDS+=($LOAD)
check "rollout start 1.0.2" pw rollout start demo-service@1.0.2
RID3=$(latest_rollout)
TESTS=$((TESTS + 1))
code=0; timeout 180 "$PW_BIN" rollout status "$RID3" --watch >watch3.txt 2>&1 || code=$?
if [ "$code" = 1 ]; then echo "ok   ... it does not succeed (status --watch exits 1)"; else
  echo "FAIL ... status --watch exit $code"; cat watch3.txt; FAILURES=$((FAILURES + 1)); fi
kill -TERM $LOAD; wait $LOAD || true
check "the broken canary's 5xx reached no client (HAProxy retried them on the old servers)" python3 -c "
import json; d = json.load(open('load2.json')); print(d)
assert d['requests'] > 50, d
assert d['connection_errors'] == 0 and not d['by_status'] and d['ok'] == d['requests'], d"
check "rollout status --output json" pw rollout status "$RID3" --output json
cp "$WORK/out" status3.json
check "... ka rolled back on the analysis, mu and ha never started (failure_policy halt)" python3 -c "
import json; r = json.load(open('status3.json')); g = {x['region']: x for x in r['regions']}
assert r['state'] == 'rolled_back', r['state']
assert g['ka']['state'] == 'rolled_back' and 'analysis at 10%' in g['ka']['reason'], g['ka']
assert g['mu']['state'] == 'aborted' and 'failure_policy: halt' in g['mu']['reason'], g['mu']"
check "ka serves 1.0.1 again" serves "$BW" 1.0.1
check "the broken release's servers are decommissioned" bash -c \
  "'$PW_BIN' servers list --output json | python3 -c \"import json,sys; s=[x for x in json.load(sys.stdin)['servers'] if x['rollout']=='$RID3']; assert len(s)==2 and all(x['state']=='decommissioned' for x in s), s\""
check "... and their agents are gone" bash -c "! pgrep -f '[s]ervers/ka-$RID3'"

# --- one that never becomes healthy is rolled back at the gate ------------------------
release 1.0.3 fail-health
check "sync" pw sync
check "rollout start 1.0.3 to ha only" pw rollout start demo-service@1.0.3 --regions ha
RID4=$(latest_rollout)
TESTS=$((TESTS + 1))
code=0; timeout 180 "$PW_BIN" rollout status "$RID4" --watch >watch4.txt 2>&1 || code=$?
if [ "$code" = 1 ] && grep -q "health gate" watch4.txt; then echo "ok   ... rolled back at the health gate"; else
  echo "FAIL ... exit $code"; cat watch4.txt; FAILURES=$((FAILURES + 1)); fi
check "ha still serves 1.0.1" serves "$NW" 1.0.1

# --- operators: pause, resume, abort; a rollback needs something to roll back to --------
check "rollout start 1.0.1 again, mu only" pw rollout start demo-service@1.0.1 --regions mu
RID5=$(latest_rollout)
check "rollout pause" pw rollout pause "$RID5"
expect_out "... queued" "pause of rollout $RID5 queued"
wait_paused() { for _ in $(seq 100); do pw rollout status "$RID5" | grep -q '\[paused\]' && return 0; sleep 0.1; done; return 1; }
check "... status shows it paused" wait_paused
refuse "a viewer may not abort" "HTTP 403" pw rollout abort "$RID5" --cert vera.crt --key vera.key
refuse "a region the rollout does not have is named" "has no region ha" pw rollout abort "$RID5" --region ha
check "rollout resume" pw rollout resume "$RID5"
check "rollout abort" pw rollout abort "$RID5"
TESTS=$((TESTS + 1))
code=0; timeout 120 "$PW_BIN" rollout status "$RID5" --watch >watch5.txt 2>&1 || code=$?
if [ "$code" = 1 ] && grep -q "reason: aborted by operator:rita" watch5.txt; then echo "ok   ... aborted, and says by whom"; else
  echo "FAIL ... exit $code"; tail -5 watch5.txt; FAILURES=$((FAILURES + 1)); fi
refuse "a finished rollout takes no more commands" "has finished (aborted)" pw rollout resume "$RID5"
check "mu still serves 1.0.1" serves "$BY" 1.0.1

# --- HAProxy dies: the controller starts it again and puts every weight back ------------
kill -9 "$(cat state/haproxy/haproxy.pid)"
back() { for _ in $(seq 100); do serves "$1" 1.0.1 2>/dev/null && return 0; sleep 0.1; done; return 1; }
for port in $BW $BY $NW; do check "after HAProxy was killed, :$port serves 1.0.1 again" back "$port"; done
check "... the controller noticed and restarted it" wait_log '"event":"haproxy_died"'

# --- nothing leaked, everything audited ------------------------------------------------
check "every server is in service or decommissioned, six agents run" leak_free 6
check "the audit chain is intact" pw audit verify
check "... and records each region's transitions" bash -c \
  "'$PW_BIN' audit export --db state/store.db --output jsonl | grep -c '\"action\":\"rollout.region\"' | awk '\$1 > 20 {ok=1} END {exit !ok}'"
finish
