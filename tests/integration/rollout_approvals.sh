# Regional approvals, maintenance windows and the emergency fast path with the real
# controller, agents, HAProxy and service (regions pi, th, sa: loopback addresses of
# their own):
#  - the pilot region pi opens without approvals; th waits for two of its three
#    approvers, one of them air-gapped (a signed file submitted later); sa waits for one
#    approver and then for its maintenance window;
#  - approvals that must not count are refused with the reason, and audited: another
#    region's key, a key not in the policy, a key counted already, an expired one, a
#    replay for another rollout, malformed and oversized documents;
#  - a rejection stops its region;
#  - an emergency release is refused without the security officers' countersignatures
#    and takes the fast path with them: one wave, fewer approvals, windows ignored;
#  - webhooks arrive at a local receiver.
#   rollout_approvals.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"
source "$here/rollout_lib.sh"

mkdir -p keys
for k in t1 t2 t3 s1 o1 o2 o3; do pw key generate --out "keys/$k" >/dev/null 2>&1; done
pub() { cat "keys/$1.pub"; }

# sa's window opens at a whole minute at least 100 s away (time enough, even on a slow
# machine, for sa to reach its gate approved and wait) and lasts an hour.
opens=$(python3 -c "
import datetime as d
now = d.datetime.now(d.timezone.utc)
t = (now + d.timedelta(seconds=100)).replace(second=0, microsecond=0) + d.timedelta(minutes=1)
print(t.strftime('%H:%M'), (t + d.timedelta(hours=1)).strftime('%H:%M'), t.strftime('%Y-%m-%dT%H:%M:00Z'))")
read -r W_START W_END W_OPENS <<<"$opens"

APPROVERS[th]="{threshold: 2, keys: [$(pub t1), $(pub t2), $(pub t3)]}"
APPROVERS[sa]="{threshold: 1, keys: [$(pub s1)]}"
REGION_EXTRA[th]=", emergency: {approvals: 1}"
REGION_EXTRA[sa]=", windows: [{start: \"$W_START\", end: \"$W_END\", timezone: UTC}], emergency: {skip_windows: true}"
FLEET_TOP="security_officers: {threshold: 2, keys: [$(pub o1), $(pub o2), $(pub o3)]}
emergency_waves: single"

HOOK_PORT=$(free_port)
python3 "$here/../support/webhook_receiver.py" --port "$HOOK_PORT" --out hooks.jsonl &
PIDS+=($!)
CONTROLLER_EXTRA="notifications:
  webhooks:
    - url: http://127.0.0.1:$HOOK_PORT/hooks/T000/B000/secret-token
    - url: http://127.0.0.1:$HOOK_PORT/only-finished
      events: [rollout.finished]"

setup_rollouts pi:1 th:2 sa:2
release 1.0.0
check "the controller starts and syncs" start_controller
operators

# --- the plan says what each gate needs ------------------------------------------------
check "rollout plan shows the gates" pw rollout plan demo-service@1.0.0
expect_out "... the pilot needs no approval" "gate: no approval needed"
expect_out "... th needs two of three" "gate: 2 of 3 approvers' signatures"
expect_out "... sa names its window" "window: daily $W_START-$W_END UTC"

check "rollout start 1.0.0" pw rollout start demo-service@1.0.0
RID=$(latest_rollout)
# sa's approver approves before sa's turn has come: counted when sa reaches its gate.
check "s1 approves sa ahead of its turn" pw approve "$RID" --region sa --key keys/s1
pending_has() {
  pw approvals pending --output json >pending.json &&
    python3 -c "
import json, sys
p = {r['region']: r for r in json.load(open('pending.json'))['pending']}
sys.exit(0 if set(p) == set('$1'.split()) else 1)"
}
wait_pending() { for _ in $(seq 600); do pending_has "$1" && return 0; sleep 0.1; done; return 1; }
check "pi goes first without approval; then th and sa wait at their gates" wait_pending "th sa"
check "... the pilot has succeeded meanwhile" bash -c "'$PW_BIN' rollout status $RID | grep -q 'pi  *succeeded'"
check "approvals pending says what would change" python3 -c "
import json
p = {r['region']: r for r in json.load(open('pending.json'))['pending']}
th = p['th']
assert th['app'] == 'demo-service' and th['version'] == '1.0.0' and th['from_version'] is None, th
assert th['needed'] == 2 and len(th['approvers']) == 3 and th['approved_by'] == [], th
assert th['create'] == 2 and th['retire'] == [] and th['traffic_steps'] == [100], th
assert th['expires_at'].endswith('Z') and th['urgency'] == 'routine', th
assert p['sa']['window'] == 'daily $W_START-$W_END UTC', p['sa']"
check "approvals pending (text) for th" pw approvals pending --region th
expect_out "... shows the count and the command" "approvals: 0 of 2"
expect_out "... and how to approve" "patchwave approve $RID --region th --key KEYFILE"

# --- refusals: each one audited with its reason ------------------------------------------
refuse "an approver of sa approving th" "is an approver of region 'sa', not of 'th'" \
  pw approve "$RID" --region th --key keys/s1
refuse "a key that approves no region" "is not an approver of any region" \
  pw approve "$RID" --region th --key keys/o1
check "t1 approves th" pw approve "$RID" --region th --key keys/t1 --comment "tested in staging"
expect_out "... counted: 1 of 2" "1 counted of 2 needed"
refuse "t1 approving th again" "has already been counted for region th" \
  pw approve "$RID" --region th --key keys/t1
check "t3 signs an approval valid for 1 s" pw approve "$RID" --region th --key keys/t3 --expires 1s --out late.json
sleep 2
refuse "... which has expired when submitted" "expired at" pw approvals submit late.json
echo '{"signed": {"_type": "approval"}, "signatures": []}' >broken.json
refuse "a malformed document" "approval" pw approvals submit broken.json
python3 -c "print('{\"signed\": {\"comment\": \"' + 'x' * 70000 + '\"}, \"signatures\": []}')" >big.json
refuse "an oversized document" "larger than 64 KiB" pw approvals submit big.json
check "... th still waits (1 of 2)" pending_has "th sa"

# --- an air-gapped approver: sign from the pending list, submit elsewhere ------------------
check "t2 signs offline from the saved pending list" env -u PATCHWAVE_CONTROLLER \
  "$PW_BIN" approve "$RID" --region th --key keys/t2 --request pending.json --out t2.json
check "... the file is submitted later" pw approvals submit t2.json
expect_out "... and accepted" "approve by key"
check "th opens: 2 of 2" wait_pending "sa"

# --- sa: approved ahead, it waits for its window -----------------------------------------
window_wait() {
  for _ in $(seq 100); do
    pw rollout status "$RID" >status.txt && grep -q "waiting for its window" status.txt && return 0
    sleep 0.1
  done
  return 1
}
check "sa waits for its window and status says until when" window_wait
check "... until the minute it opens" grep -q "until $W_OPENS" status.txt
check "the rollout succeeds once the window opens" timeout 300 "$PW_BIN" rollout status "$RID" --watch
REPLAY=$(cat t2.json)

# --- a rejection stops its region ---------------------------------------------------------
release 1.0.1
check "sync 1.0.1" pw sync
check "rollout start 1.0.1 to th only" pw rollout start demo-service@1.0.1 --regions th
RID2=$(latest_rollout)
check "... th waits" wait_pending "th"
echo "$REPLAY" >replay.json
refuse "the approval of the first rollout replayed" "past its gate" pw approvals submit replay.json
check "t3 rejects" pw reject "$RID2" --region th --key keys/t3 --comment "clashes with the billing run"
TESTS=$((TESTS + 1)); code=0
timeout 60 "$PW_BIN" rollout status "$RID2" --watch >watch2.txt 2>&1 || code=$?
if [ "$code" = 1 ] && grep -q "th  *rejected" watch2.txt && grep -q "clashes with the billing run" watch2.txt; then
  echo "ok   ... th is rejected, with the approver's reason"; else
  echo "FAIL ... exit $code"; cat watch2.txt | tail -5; FAILURES=$((FAILURES + 1)); fi
check "th still serves 1.0.0" serves "${FRONT[th]}" 1.0.0

# --- the emergency path needs the security officers' countersignatures --------------------
release 1.0.2 ok emergency
check "sync the emergency release 1.0.2" pw sync
refuse "an emergency release without countersignatures is refused" "refused as an emergency" \
  pw rollout start demo-service@1.0.2
check "... the plan says why" pw rollout plan demo-service@1.0.2
expect_out "... (no countersignature)" "Not honoured as an emergency"
check "officer o1 countersigns" pw release countersign repo --key keys/o1
check "sync" pw sync
refuse "one of two officers is not enough" "1 of 2" pw rollout start demo-service@1.0.2
check "officer o2 countersigns" pw release countersign repo --key keys/o2
check "sync" pw sync
# Traffic on every frontend: each canary step is judged on real requests.
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:${FRONT[pi]}/" \
  --url "http://127.0.0.1:${FRONT[th]}/" --url "http://127.0.0.1:${FRONT[sa]}/" \
  --concurrency 3 --out load.json &
LOAD=$!; PIDS+=($LOAD)
check "the emergency starts" pw rollout start demo-service@1.0.2
RID3=$(latest_rollout)
check "... countersigned, every region in one wave" python3 -c "
import json, subprocess
r = json.loads(subprocess.check_output(['$PW_BIN', 'rollout', 'status', '$RID3', '--output', 'json']))
assert r['urgency'] == 'emergency' and len(r['emergency']['countersigned_by']) == 2, r['emergency']
assert {x['wave'] for x in r['regions']} == {1}, [x['wave'] for x in r['regions']]"
check "th needs one approval in an emergency; sa's window is ignored, its approver is not" \
  wait_pending "th sa"
check "... th: one of three" python3 -c "
import json
p = {r['region']: r for r in json.load(open('pending.json'))['pending']}
assert p['th']['needed'] == 1 and any('instead of 2' in s for s in p['th']['shortcuts']), p['th']
assert any('windows ignored' in s for s in p['sa']['shortcuts']), p['sa']"
check "t2 approves th" pw approve "$RID3" --region th --key keys/t2
check "s1 approves sa" pw approve "$RID3" --region sa --key keys/s1
check "the emergency rollout succeeds" timeout 200 "$PW_BIN" rollout status "$RID3" --watch
kill -TERM $LOAD; wait $LOAD || true
for r in pi th sa; do check "$r serves 1.0.2" serves "${FRONT[$r]}" 1.0.2; done
check "no request failed during the emergency cutover" python3 -c "
import json; d = json.load(open('load.json'))
assert d['requests'] > 100, d
assert d['connection_errors'] == 0 and not d['by_status'] and d['ok'] == d['requests'], d"

# --- audit and webhooks --------------------------------------------------------------------
pw audit export --db state/store.db --output jsonl >audit.jsonl
check "the audit chain is intact" pw audit verify
check "every refusal is audited with its reason" python3 -c "
import json
ev = [json.loads(l) for l in open('audit.jsonl')]
refused = [e['outcome'] for e in ev if e['action'] == 'approval.refused']
for reason in ['not of \'th\'', 'not an approver of any region', 'already been counted',
               'expired at', 'larger than', 'past its gate']:
    assert any(reason in o for o in refused), (reason, refused)
acts = {e['action'] for e in ev}
for a in ['approval.accepted', 'approval.requested', 'rollout.emergency_refused',
          'rollout.emergency_honoured', 'rollout.shortcut']:
    assert a in acts, a"
hooks_have() {
  python3 -c "
import json, sys
h = [json.loads(l) for l in open('hooks.jsonl')]
events = [x['body']['event'] if 'body' in x else x['event'] for x in h]
need = {'approval.requested', 'approval.rejected', 'region.succeeded', 'rollout.finished'}
sys.exit(0 if need <= set(events) else 1)" 2>/dev/null
}
wait_hooks() { for _ in $(seq 100); do hooks_have && return 0; sleep 0.1; done; return 1; }
check "webhooks arrived: approval requested and rejected, region succeeded, rollout finished" wait_hooks
check "... each with a text line for chat tools" python3 -c "
import json
for l in open('hooks.jsonl'):
    x = json.loads(l); b = x.get('body', x)
    assert b['text'].startswith('Patchwave: '), b"
check "the webhook's secret never reaches the log" bash -c "! grep -q secret-token controller.log"
finish
