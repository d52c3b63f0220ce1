# Attacks, each of which must be refused, with the real controller, agents and HAProxy
# (regions ax and ay: loopback addresses of their own). Where the controller sees an
# attack, its audit log must say so. docs/RELIABILITY.md lists them with the tests that
# show the others.
#  - the API: no client certificate, a viewer starting a rollout, an agent's certificate
#    used as an operator's, wrong types in request bodies, path tricks, oversized bodies
#    and headers, slow clients holding connections (slowloris);
#  - approvals: another region's approver, forged documents, an approval replayed from
#    another rollout;
#  - the manifests remote (a bare git repository the controller fetches from): older
#    signed metadata force-pushed (rollback), an old timestamp replayed and a repository
#    frozen until its timestamp expires (freeze), a snapshot mixed with another publish's
#    targets and a timestamp with another's snapshot (mix-and-match);
#  - an artifact swapped on the controller's disk after it was verified: the agent
#    refuses it and the region rolls back;
#  - the audit database tampered with to erase an attack: `audit verify` names the event.
#   attacks.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"
source "$here/rollout_lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 1; }

mkdir -p keys
for k in kx ky forger; do pw key generate --out "keys/$k" >/dev/null 2>&1; done
# ax is a pilot (no approvals) whose only approver key is kx; ay needs ky's approval.
APPROVERS[ax]="{threshold: 0, keys: [$(cat keys/kx.pub)]}"
APPROVERS[ay]="{threshold: 1, keys: [$(cat keys/ky.pub)]}"
REGION_EXTRA[ax]=", servers: 1"
REGION_EXTRA[ay]=", servers: 1"
setup_rollouts ax:1 ay:1
release 1.0.0
OLD=$(git -C repo rev-parse HEAD)
release 1.0.1
GOOD=$(git -C repo rev-parse HEAD)
# The controller fetches from a remote, as it would from a git server.
git init -q --bare remote.git
git -C repo remote add origin "$WORK/remote.git"
git -C repo push -q origin HEAD:refs/heads/main
git -C remote.git symbolic-ref HEAD refs/heads/main
sed -i "s#repository: $WORK/repo@HEAD#repository: file://$WORK/remote.git@main#" controller.yaml
check "the controller starts and syncs from the remote" start_controller
operators
pw ca issue-operator --dir state/ca --name xena --role approver:ax --out xena >/dev/null

# audited PYTHON-CONDITION...: each condition over `ev` (the audit events) holds.
audited() {
  pw audit export --db state/store.db --output jsonl >audit.jsonl &&
    python3 - "$@" <<'PY'
import json, sys
ev = [json.loads(l) for l in open('audit.jsonl')]
for condition in sys.argv[1:]:
    if not eval(condition):
        sys.exit(f"not audited: {condition}")
PY
}
wait_pending() {  # REGION: the region waits at its gate
  for _ in $(seq 300); do
    pw approvals pending --region "$1" --output json 2>/dev/null | grep -q '"region": "'"$1"'"' && return 0
    sleep 0.2
  done
  return 1
}
rollout_state() {
  pw rollout status "$1" --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'
}
wait_finished() {  # RID: until the rollout is in a final state
  for _ in $(seq 600); do
    case "$(rollout_state "$1" 2>/dev/null)" in succeeded | partially_failed | rolled_back | aborted) return 0 ;; esac
    sleep 0.2
  done
  return 1
}
ROLLOUT_BODY='{"app": "demo-service", "version": "1.0.0", "regions": ["ax"]}'

# --- who may call the API ---------------------------------------------------------------
call "no client certificate: 401" 401 none GET /v1/releases
call "... nor to start a rollout" 401 none POST /v1/rollouts --data-binary "$ROLLOUT_BODY"
refuse "a viewer starting a rollout" "HTTP 403" pw rollout start demo-service@1.0.0 --cert vera.crt --key vera.key
refuse "an approver (certificate role) starting a rollout" "HTTP 403" \
  pw rollout start demo-service@1.0.0 --cert xena.crt --key xena.key
# A real agent certificate: a one-time token and an enrollment, as a server would.
TOKEN=$(pw ca token --dir state/ca --db state/store.db --server ax-rogue-0 --ttl 10m)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout agent.key \
  -subj /CN=ax-rogue-0 -out agent.csr 2>/dev/null
python3 -c "import json,sys; print(json.dumps({'name': 'ax-rogue-0', 'token': sys.argv[1], 'csr': open('agent.csr').read()}))" \
  "$TOKEN" >enroll.json
call "an agent enrolls" 200 none POST /v1/enroll --data-binary @enroll.json
head -n -1 "$WORK/resp" | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificate"], end="")' >agent.crt
call "an agent's certificate used as an operator's: 403" 403 agent GET /v1/releases
body_has "... which carries no role" "carries no role"
call "... nor may it start a rollout" 403 agent POST /v1/rollouts --data-binary "$ROLLOUT_BODY"
call "... nor sync" 403 agent POST /v1/sync
call "operators may not fetch artifacts (agents only)" 403 vera GET "/v1/artifacts/$(printf '%064d' 0)"
check "every refusal is audited: who, what, and why" audited \
  "any(e['action'] == 'api.refused' and e['actor'] == 'anonymous' and e['inputs']['path'] == '/v1/releases' and 'certificate is required' in e['outcome'] for e in ev)" \
  "any(e['action'] == 'api.refused' and e['actor'] == 'vera' and e['inputs']['role'] == 'viewer' and e['inputs']['method'] == 'POST' and e['inputs']['path'] == '/v1/rollouts' for e in ev)" \
  "any(e['action'] == 'api.refused' and e['actor'] == 'xena' and e['inputs']['role'] == 'approver:ax' for e in ev)" \
  "sum(e['action'] == 'api.refused' and e['actor'] == 'ax-rogue-0' and e['inputs']['role'] == 'none' for e in ev) == 3" \
  "any(e['action'] == 'api.refused' and e['actor'] == 'vera' and 'artifacts are for agents' in e['outcome'] for e in ev)"
check "... an anonymous caller once a minute (it could flood the log)" audited \
  "sum(e['action'] == 'api.refused' and e['actor'] == 'anonymous' for e in ev) == 1"

# --- what the API is sent ------------------------------------------------------------------
# Each wrong type below reached nlohmann::json::value(), which throws: the controller died.
call "a rollout plan with a number for app: 400" 400 rita POST /v1/rollouts/plan --data-binary '{"app": 5}'
body_has "... naming the field" "app: must be a string"
call "routine that is not a boolean: 400" 400 rita POST /v1/rollouts --data-binary '{"app": "demo-service", "version": "1.0.0", "routine": "yes"}'
call "provision with a rollout id that is an object: 400" 400 rita POST /v1/servers/provision \
  --data-binary '{"region": "ax", "count": 1, "rollout": {}}'
# Ignored before: the rollout meant for one region went to every region.
call "regions that is not a list: 400" 400 rita POST /v1/rollouts --data-binary '{"app": "demo-service", "version": "1.0.0", "regions": "ax"}'
# Narrowed to int before: 2^32 + 1 provisioned one server.
call "a count of 2^32 + 1: 400" 400 rita POST /v1/servers/provision --data-binary '{"region": "ax", "count": 4294967297}'
call "the controller is still there" 200 vera GET /v1/status
check "... it was never restarted" kill -0 "$CTL_PID"

call "artifacts: dot-dot, encoded" 400 agent GET "/v1/artifacts/..%2f..%2fstore.db" --path-as-is
call "artifacts: dot-dot, raw" 400 agent GET "/v1/artifacts/../../store.db" --path-as-is
call "artifacts: a sha256, then more path" 400 agent GET "/v1/artifacts/$(printf '%064d' 0)/../../store.db" --path-as-is
call "a server name that climbs: 404" 404 vera GET "/v1/servers/..%2f..%2fca/agent" --path-as-is
call "a rollout id that climbs: 404" 404 vera GET "/v1/rollouts/..%2f..%2fstore.db" --path-as-is
call "provisioning with a rollout id that climbs out of servers_dir: refused" 422 rita \
  POST /v1/servers/provision --data-binary '{"region": "ax", "count": 1, "rollout": "../../../pwned"}'
body_has "... by the server name rule" "must be 1-64 characters"
check "... nothing was created" bash -c "! find '$WORK' -name '*pwned*' | grep -q ."
check "... audited" audited \
  "any(e['action'] == 'servers.provision' and e['outcome'].startswith('refused: ') and 'pwned' in e['outcome'] for e in ev)"

head -c 2000000 /dev/zero | tr '\0' x >huge.json
call "a 2 MB body: 413" 413 rita POST /v1/rollouts --data-binary @huge.json
call "... from anyone, before a handler reads it" 413 none POST /v1/enroll --data-binary @huge.json
call "a 20 KB header: 413" 413 vera GET /v1/status -H "X-Pad: $(head -c 20000 /dev/zero | tr '\0' y)"
python3 -c "print('{\"signed\": {\"comment\": \"' + 'x' * 70000 + '\"}, \"signatures\": []}')" >big-approval.json
call "an approval document over 64 KiB: 413" 413 vera POST /v1/approvals --data-binary @big-approval.json
check "... audited" audited "any(e['action'] == 'approval.refused' and 'larger than 64 KiB' in e['outcome'] for e in ev)"
call "the controller still answers" 200 vera GET /v1/status

# --- slow clients: connections held open byte by byte ------------------------------------
python3 "$here/attacks/slowloris.py" --port "$CPORT" --ca state/ca/ca.pem --cert vera.crt \
  --key vera.key --raw 100 --tls 100 --probes 5 --hold 60 >slowloris.json 2>slowloris.err || true
echo "     slowloris: $(cat slowloris.json)"
check "200 slow connections held: normal requests still answered, each within 3 s" python3 -c "
import json; d = json.load(open('slowloris.json'))
assert d['opened'] == {'raw': 100, 'tls': 100}, d
assert all(p['status'] == 200 and p['seconds'] < 3 for p in d['probes']), d['probes']"
check "... and the controller closed every slow one (30 s to finish a request)" python3 -c "
import json; d = json.load(open('slowloris.json'))
assert d['still_open'] == 0 and d['closed'] == 200, d
assert 25 <= d['closed_after']['min'] and d['closed_after']['max'] <= 50, d"

# --- approvals: another region's approver, forgeries, a replay ---------------------------
check "rollout start 1.0.0 to ay" pw rollout start demo-service@1.0.0 --regions ay
RA=$(latest_rollout)
check "... ay waits for ky's approval" wait_pending ay
refuse "ax's approver approving ay" "is an approver of region 'ax', not of 'ay'" \
  pw approve "$RA" --region ay --key keys/kx
check "ky signs an approval (kept, not submitted yet)" pw approve "$RA" --region ay --key keys/ky --out approval-a.json
check "ky signs a rejection" pw reject "$RA" --region ay --key keys/ky --comment "not now" --out rejection.json
edit_json rejection.json 'doc["signed"]["decision"] = "approve"; doc["signed"]["comment"] = "ok"'
refuse "a rejection turned into an approval after signing" "the signature does not verify" \
  pw approvals submit rejection.json
check "the forger signs with a key of its own" bash -c \
  "'$PW_BIN' approve '$RA' --region ay --key keys/forger --out forged.json || test -s forged.json"
python3 - <<'PY'
import json, os
real = json.load(open("approval-a.json"))
sig = "00" * 64
if os.path.exists("forged.json") and os.path.getsize("forged.json"):
    sig = json.load(open("forged.json"))["signatures"][0]["sig"]
forged = {"signed": real["signed"], "signatures": [{"keyid": real["signatures"][0]["keyid"], "sig": sig}]}
json.dump(forged, open("forged.json", "w"))
PY
refuse "... and claims ky's key id" "the signature does not verify" pw approvals submit forged.json
call "rollout commands: a region of the wrong type: 400" 400 rita POST "/v1/rollouts/$RA/pause" --data-binary '{"region": ["ay"]}'
check "ay still waits" wait_pending ay
check "ky's real approval is accepted" pw approvals submit approval-a.json
check "the first rollout is aborted once ay is past its gate" bash -c \
  "for i in \$(seq 100); do '$PW_BIN' approvals pending --region ay --output json | grep -q '\"region\": \"ay\"' || break; sleep 0.2; done; '$PW_BIN' rollout abort '$RA'"
check "... and finishes" wait_finished "$RA"
check "rollout start 1.0.0 to ay again" pw rollout start demo-service@1.0.0 --regions ay
RB=$(latest_rollout)
check "... ay waits for an approval of this rollout" wait_pending ay
refuse "the first rollout's approval replayed" "past its gate" pw approvals submit approval-a.json
edit_json approval-a.json "doc['signed']['rollout'] = '$RB'"
refuse "... and rebound to the new rollout" "the signature does not verify" pw approvals submit approval-a.json
check "ay still waits, nothing counted" bash -c "'$PW_BIN' approvals pending --region ay --output json | grep -q '\"approved_by\": \[\]'"
check "every approval refused is audited with its reason" audited \
  "any(e['action'] == 'approval.refused' and \"not of 'ay'\" in e['outcome'] for e in ev)" \
  "sum(e['action'] == 'approval.refused' and 'signature does not verify' in e['outcome'] for e in ev) == 3" \
  "any(e['action'] == 'approval.refused' and 'past its gate' in e['outcome'] and e['inputs']['rollout'] == '$RA' for e in ev)"
check "abort the second rollout" pw rollout abort "$RB"
check "... it finishes" wait_finished "$RB"

# --- an artifact swapped on the controller's disk after verification ---------------------
SHA1=$(sha256sum dist/demo-1.0.1.tar.gz | cut -d' ' -f1)
check "the controller verified 1.0.1 and stored it" cmp dist/demo-1.0.1.tar.gz "state/artifacts/$SHA1"
# One byte flipped in the middle: the same length, another sha256.
python3 - "state/artifacts/$SHA1" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[len(data) // 2] ^= 0xFF
open(sys.argv[1], "wb").write(bytes(data))
PY
check "rollout start 1.0.1 to ax" pw rollout start demo-service@1.0.1 --regions ax
RC=$(latest_rollout)
check "... it stops: the agent refused the artifact" wait_finished "$RC"
pw rollout status "$RC" --output json >swap.json
check "... ax rolled back, naming the hash" python3 -c "
import json; r = json.load(open('swap.json')); ax = r['regions'][0]
assert r['state'] in ('rolled_back', 'aborted', 'partially_failed'), r['state']
assert ax['state'] in ('rolled_back', 'aborted'), ax
assert 'staging failed' in ax['reason'] and 'sha256' in ax['reason'], ax['reason']"
check "... audited" audited \
  "any(e['action'].startswith('rollout.') and 'staging failed' in e['outcome'] and 'sha256' in e['outcome'] for e in ev)"
check "... no agent is left running it" bash -c "! pgrep -f '[p]atchwave-agent run --config $WORK/state/servers/ax-$RC'"

# --- the manifests remote ---------------------------------------------------------------
git clone -q remote.git attacker
attack() {  # MESSAGE: commits the attacker's tree and force-pushes it to the remote
  git -C attacker add -A && git -C attacker commit -qm "$1" && git -C attacker push -q -f origin HEAD:main
}
git -C repo push -q -f origin "$OLD:refs/heads/main"
call "older signed metadata force-pushed to the remote: sync refused" 422 rita POST /v1/sync
body_has "... as a rollback" "rollback"
call "... the last good state stays" 200 vera GET /v1/releases
body_has "... with 1.0.1" '"version":"1.0.1"'
git -C attacker fetch -q origin && git -C attacker reset -q --hard "$GOOD"
git -C repo show "$OLD:metadata/timestamp.json" >attacker/metadata/timestamp.json
attack "an old timestamp"
call "an old timestamp replayed on the newest state: refused" 422 rita POST /v1/sync
body_has "... naming the timestamp's version" "older than the trusted version"
git -C attacker reset -q --hard "$GOOD"
git -C repo show "$OLD:metadata/targets.json" >attacker/metadata/targets.json
attack "the newest snapshot, older targets"
call "a snapshot mixed with another publish's targets: refused" 422 rita POST /v1/sync
body_has "... targets.json does not match what snapshot.json describes" "targets.json"
git -C attacker reset -q --hard "$GOOD"
git -C repo show "$OLD:metadata/snapshot.json" >attacker/metadata/snapshot.json
attack "the newest timestamp, an older snapshot"
call "a timestamp mixed with another publish's snapshot: refused" 422 rita POST /v1/sync
body_has "... naming snapshot.json" "snapshot.json"
git -C repo push -q -f origin "$GOOD:refs/heads/main"
call "the genuine state again: sync accepted" 200 rita POST /v1/sync
# A freeze: the remote stops changing, so the controller never sees a newer timestamp; once
# the last one expires, it is refused.
check "publish a timestamp that expires in 10 s" pw release publish repo --snapshot-key keys/online \
  --timestamp-key keys/online --timestamp-expires 10s
git -C repo push -q -f origin HEAD:refs/heads/main
call "... synced while it is fresh" 200 rita POST /v1/sync
sleep 11
call "the same metadata after its timestamp expired: refused" 422 rita POST /v1/sync
body_has "... as expired" "expired"
call "... and no rollout starts from what the controller last verified" 409 rita POST /v1/rollouts \
  --data '{"app": "demo-service", "version": "1.0.0"}'
body_has "... naming the expired file" "timestamp.json: the verified metadata expired at"
check "every refused sync is audited with its reason" audited \
  "sum(e['action'] == 'sync' and e['outcome'].startswith('refused: timestamp.json') and 'older than the trusted version' in e['outcome'] for e in ev) == 2" \
  "any(e['action'] == 'sync' and e['outcome'].startswith('refused: ') and 'targets.json' in e['outcome'] for e in ev)" \
  "any(e['action'] == 'sync' and e['outcome'].startswith('refused: ') and 'snapshot.json' in e['outcome'] for e in ev)" \
  "any(e['action'] == 'sync' and e['outcome'].startswith('refused: ') and 'expired' in e['outcome'] for e in ev)"

# --- the audit database, tampered with to erase an attack --------------------------------
FIRST=$(sqlite3 state/store.db "SELECT MIN(seq) FROM events WHERE action = 'api.refused'")
sqlite3 state/store.db ".backup deleted.db"
sqlite3 deleted.db "DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = $FIRST"
refuse "an event deleted: audit verify names where the chain breaks" "BROKEN at event $FIRST: event $FIRST is missing" \
  bash -c "'$PW_BIN' audit verify --db deleted.db 1>&2"
sqlite3 state/store.db "DROP TRIGGER events_no_update; UPDATE events SET action = 'note', outcome = 'ok' WHERE action = 'api.refused'"
refuse "refusals rewritten in the live store: audit verify names the first" "BROKEN at event $FIRST" \
  bash -c "'$PW_BIN' audit verify --db state/store.db 1>&2"
call "... the controller's own check finds it too" 409 vera GET /v1/audit/verify
body_has "... naming the event" "\"first_broken_event\":$FIRST"
refuse "... and so does audit verify through the controller, in the same words" \
  "HTTP 409: BROKEN at event $FIRST: event $FIRST was changed after it was written" \
  pw audit verify --cert vera.crt --key vera.key
finish
