# The real controller (`patchwave serve`) with real SQLite, a real git manifests
# repository and a real agent: sync and verify, operator API role checks, enrollment with
# one-time tokens (reused/wrong refused), an agent staging a release whose artifact it
# downloads from the controller, the audit chain over the API and the CLI, kill -9 and
# restart with the store intact, a manifests repository that stops verifying.
#   controller_serve.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${PW_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

make_repo repo
OLD_COMMIT=$(git -C repo rev-parse HEAD)   # timestamp version 1: for the rollback test
src=$(mktemp -d "$WORK/src-XXXXXX"); mkdir -p "$src/bin" artifacts
printf '#!/bin/sh\nexec python3 -m http.server "$PORT" --bind 127.0.0.1\n' >"$src/bin/demo-service"
chmod 755 "$src/bin/demo-service"; head -c 100000 /dev/urandom >"$src/data.bin"
tar -czf artifacts/demo-1.0.1.tar.gz -C "$src" .
pw release add repo artifacts/demo-1.0.1.tar.gz --app demo-service --version 1.0.1 \
  --name demo/1.0.1/demo-1.0.1.tar.gz --run bin/demo-service --health http:8080/ >/dev/null
# The fleet policy is a signed target too.
pw release add repo "$here/../../manifests/examples/fleet.yaml" --name fleet/policy.yaml >/dev/null
pw release sign repo --key keys/alice >/dev/null
pw release sign repo --key keys/carol >/dev/null
pw release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null
SHA=$(sha256sum artifacts/demo-1.0.1.tar.gz | cut -d' ' -f1)

CPORT=$(free_port)
cat >controller.yaml <<YAML
state_dir: $WORK/state
listen: 127.0.0.1:$CPORT
manifests:
  repository: $WORK/repo@HEAD
  root: $WORK/repo/metadata/1.root.json
  sync_interval: 1h
audit:
  checkpoint_interval: 1h
agent_binary: $AGENT_BIN
YAML
start_controller() {
  local before
  before=$(grep -c 'listening' controller.log 2>/dev/null || true)
  "$PW_BIN" serve --config controller.yaml --log-format json 2>>controller.log &
  CTL_PID=$!
  PIDS+=($CTL_PID)
  for _ in $(seq 100); do
    [ "$(grep -c listening controller.log)" -gt "${before:-0}" ] && return 0
    kill -0 "$CTL_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
printf 'colour: blue\n' >bad.yaml
refuse "a bad controller config names the key" "colour: unknown key" pw serve --config bad.yaml
check "controller starts" start_controller
# The first sync runs right after the server starts listening.
wait_synced() { for _ in $(seq 200); do grep -q '"event":"synced"' controller.log && return 0; sleep 0.1; done; return 1; }
check "the first sync ran" wait_synced
check "CA key is 0600" test "$(stat -c %a state/ca/ca.key)" = 600
check "the verified artifact is in the content-addressed store" cmp artifacts/demo-1.0.1.tar.gz "state/artifacts/$SHA"

pw ca issue-operator --dir state/ca --name vera --role viewer --out vera >/dev/null
pw ca issue-operator --dir state/ca --name rita --role release-engineer --out rita >/dev/null

export PATCHWAVE_CONTROLLER="https://127.0.0.1:$CPORT" PATCHWAVE_CA="$WORK/state/ca/ca.pem"
check "patchwave releases list (viewer)" pw releases list --cert vera.crt --key vera.key
expect_out "... shows the release with its urgency" "demo-service"
check "patchwave fleet show (viewer)" pw fleet show --cert vera.crt --key vera.key --output json
cp "$WORK/out" fleet.json
check "... the verified policy's regions" python3 -c "
import json; d = json.load(open('fleet.json')); assert [r['name'] for r in d['policy']['regions']] == ['bw', 'by', 'nw'], d"
refuse "patchwave sync needs the release-engineer role" "HTTP 403" pw sync --cert vera.crt --key vera.key
check "patchwave sync (release engineer)" pw sync --cert rita.crt --key rita.key
refuse "the client says what is missing" "--cert is required" env -u PATCHWAVE_CERT "$PW_BIN" releases list
printf '{"controller": "https://127.0.0.1:%s", "ca": "%s", "cert": "%s", "key": "%s"}' \
  "$CPORT" "$WORK/state/ca/ca.pem" "$WORK/vera.crt" "$WORK/vera.key" >client.json
check "a client configuration file works" env -u PATCHWAVE_CONTROLLER -u PATCHWAVE_CA \
  "$PW_BIN" releases list --client-config client.json
refuse "... and its unknown keys are named" "unknown key 'colour'" bash -c \
  "echo '{\"colour\": \"x\"}' >bad-client.json && '$PW_BIN' releases list --client-config bad-client.json --cert a --key b"
call "viewer lists the verified releases" 200 vera GET /v1/releases
body_has "... the demo release" "demo/1.0.1/demo-1.0.1.tar.gz"
call "no certificate: 401" 401 none GET /v1/releases
call "a viewer may not sync" 403 vera POST /v1/sync
call "a release engineer syncs" 200 rita POST /v1/sync
call "operators may not fetch artifacts" 403 vera GET "/v1/artifacts/$SHA"
check "patchwave audit verify through the controller" pw audit verify --cert vera.crt --key vera.key
expect_out "... intact" "chain:   intact"
check "patchwave audit export through the controller" pw audit export --output jsonl --cert vera.crt --key vera.key
cp "$WORK/out" remote-events.jsonl
check "... the same events as the database" bash -c "pw_db=\$('$PW_BIN' audit export --db state/store.db --output jsonl | head -n \$(wc -l <remote-events.jsonl)); [ \"\$pw_db\" = \"\$(cat remote-events.jsonl)\" ]"
call "audit verify over the API" 200 vera GET /v1/audit/verify
body_has "... intact" '"intact":true'
call "unknown endpoint" 404 vera GET /v1/nothing
tls_refused() {
  local name=$1; shift
  TESTS=$((TESTS + 1))
  local code; code=$(curl -sS -o /dev/null -w '%{http_code}' "$@" 2>/dev/null || true)
  if [ "$code" = 000 ]; then echo "ok   $name"; else echo "FAIL $name: HTTP $code"; FAILURES=$((FAILURES + 1)); fi
}
make_pki other
tls_refused "a certificate from another CA is refused at TLS" --cacert state/ca/ca.pem \
  --cert other/rogue.pem --key other/rogue.key "https://127.0.0.1:$CPORT/v1/releases"

# --- a real agent enrolls with the real controller and stages from it ---------------
TOKEN=$(pw ca token --dir state/ca --db state/store.db --server agent-1 --ttl 10m)
printf '%s\n' "$TOKEN" >token && chmod 600 token
printf 'not-a-token\n' >bad-token && chmod 600 bad-token
APORT=$(free_port)
cat >agent.json <<JSON
{"name": "agent-1", "state_dir": "$WORK/agent", "listen": "127.0.0.1:$APORT",
 "controller_url": "https://127.0.0.1:$CPORT", "controller_ca": "$WORK/state/ca/ca.pem",
 "pinned_root": "$WORK/repo/metadata/1.root.json", "enrollment_token_file": "$WORK/token",
 "log_format": "json"}
JSON
refuse "a wrong token is refused by the controller" "refused enrollment (HTTP 403)" \
  "$AGENT_BIN" run --config agent.json --enrollment-token-file "$WORK/bad-token"
"$AGENT_BIN" run --config agent.json 2>agent.log &
AGENT_PID=$!; PIDS+=($AGENT_PID)
for _ in $(seq 100); do grep -q listening agent.log && break; sleep 0.1; done
check "the agent enrolled with the controller's CA" openssl verify -CAfile state/ca/ca.pem agent/tls/agent.crt
rm -rf agent2 && sed "s#$WORK/agent\"#$WORK/agent2\"#; s/$APORT/$(free_port)/" agent.json >agent2.json
refuse "the same token does not work twice" "refused enrollment (HTTP 403)" \
  "$AGENT_BIN" run --config agent2.json
call "an agent fetches the bundle" 200 agent GET /v1/bundle --cert agent/tls/agent.crt --key agent/tls/agent.key
python3 - "$WORK/resp" "https://127.0.0.1:$CPORT/v1/artifacts/$SHA" >put.json <<'PY'
import json, sys
doc = json.loads(open(sys.argv[1]).read().rsplit("\n", 1)[0])
print(json.dumps({"metadata": doc["metadata"], "artifact_url": sys.argv[2]}))
PY
as_controller=(--cert state/tls/controller.crt --key state/tls/controller.key --cacert state/ca/ca.pem)
TESTS=$((TESTS + 1))
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --data-binary @put.json "${as_controller[@]}" \
  "https://127.0.0.1:$APORT/v1/releases/$SHA" || true)
if [ "$code" = 202 ]; then echo "ok   the agent accepts the release from the controller's bundle"; else
  echo "FAIL PUT release: HTTP $code"; FAILURES=$((FAILURES + 1)); fi
state=""
for _ in $(seq 100); do
  state=$(curl -sS "${as_controller[@]}" "https://127.0.0.1:$APORT/v1/releases/$SHA" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("state"))' 2>/dev/null || true)
  [ "$state" = staged ] || [ "$state" = failed ] && break
  sleep 0.2
done
check "the agent downloaded the artifact from the controller and staged it" test "$state" = staged
check "... byte for byte" test -x "agent/releases/$SHA/bin/demo-service"

# wait_enrolled REGION N: polls `servers list` (into servers.json) until N servers are
# enrolled or 20 s pass; leaves the count in $enrolled.
wait_enrolled() {
  enrolled=0
  for _ in $(seq 100); do
    pw servers list --region "$1" --cert vera.crt --key vera.key --output json >servers.json 2>/dev/null || true
    enrolled=$(python3 -c "import json; print(sum(s['state'] == 'enrolled' for s in json.load(open('servers.json'))['servers']))" 2>/dev/null || echo 0)
    [ "$enrolled" = "$2" ] && return 0
    sleep 0.2
  done
}
# --- fresh servers through the region's provider (local: a directory + an agent on 127.R.S.N)
refuse "a viewer may not provision" "HTTP 403" pw servers provision --region bw --count 3 --cert vera.crt --key vera.key
refuse "an unknown region is named" "region 'xx' is not in the fleet policy" \
  pw servers provision --region xx --count 1 --cert rita.crt --key rita.key
check "provision three fresh servers in bw" pw servers provision --region bw --count 3 --rollout r1 --cert rita.crt --key rita.key
wait_enrolled bw 3
check "their agents enroll with one-time tokens" test "$enrolled" = 3
check "each on its own loopback address" python3 -c "
import json; s = json.load(open('servers.json'))['servers']
assert len({x['address'] for x in s}) == 3 and all(x['address'].startswith('127.') for x in s), s"
ADDR=$(python3 -c "import json; print(json.load(open('servers.json'))['servers'][0]['address'])")
check "a provisioned agent answers the controller over mutual TLS" curl -sS -f "${as_controller[@]}" "https://$ADDR/v1/status"
check "patchwave servers status asks the agent through the controller" pw servers status bw-r1-0 --cert vera.crt --key vera.key --output json
expect_out "... which answers with its own identity" '"name": "bw-r1-0"'
refuse "... an unknown server is named" "no server nope" pw servers status nope --cert vera.crt --key vera.key
check "provisioning again is idempotent" pw servers provision --region bw --count 3 --rollout r1 --cert rita.crt --key rita.key
check "... still three servers" test "$(pw servers list --region bw --cert vera.crt --key vera.key --output json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["servers"]))')" = 3
for i in 0 1 2; do
  check "decommission bw-r1-$i" pw servers decommission "bw-r1-$i" --cert rita.crt --key rita.key
done
check "their directories are gone" test -z "$(ls state/servers 2>/dev/null)"
check "their agents are gone" bash -c "! pgrep -f '$WORK/state/[s]ervers/' >/dev/null"
check "servers are audited" bash -c "'$PW_BIN' audit export --db state/store.db | grep -q servers.decommission"

# --- the same through the script provider (scripts/providers/example-provider) ----------
python3 - "$here/../../scripts/providers/example-provider" "$WORK/script-servers" "$AGENT_BIN" >fleet2.yaml <<'PY'
import json, sys
key = json.dumps(json.load(open("keys/alice.pub")))
print(f"""version: 1
regions:
  - name: sc
    provider: {{kind: script, command: ["{sys.argv[1]}"], timeout: 60s,
                base_dir: "{sys.argv[2]}", agent_binary: "{sys.argv[3]}", region_number: "9"}}
    servers: 2
    backend: app_sc
    approvers: {{threshold: 1, keys: [{key}]}}""")
PY
pw release add repo fleet2.yaml --name fleet/policy-2.yaml >/dev/null
pw release sign repo --key keys/alice >/dev/null
pw release sign repo --key keys/carol >/dev/null
pw release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null
check "a new fleet policy is synced" pw sync --cert rita.crt --key rita.key
check "provision two servers through the script provider" pw servers provision --region sc --count 2 --rollout r2 --cert rita.crt --key rita.key
wait_enrolled sc 2
check "... their agents enroll" test "$enrolled" = 2
check "... on 127.9.0.x" python3 -c "
import json; s = json.load(open('servers.json'))['servers']; assert all(x['address'].startswith('127.9.0.') for x in s), s"
for i in 0 1; do
  check "decommission sc-r2-$i through the script" pw servers decommission "sc-r2-$i" --cert rita.crt --key rita.key
done
check "the script removed them" test -z "$(ls script-servers 2>/dev/null)"

# --- audit, kill -9, restart --------------------------------------------------------
check "enrollments are audited" bash -c "'$PW_BIN' audit export --db state/store.db | grep -q '\"outcome\": \"refused: unknown token\"'"
kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true
check "the store survives kill -9: chain intact" pw audit verify --db state/store.db
EVENTS=$(pw audit export --db state/store.db --output jsonl | wc -l)
check "controller restarts on the same store" start_controller
check "... and keeps every event" test "$(pw audit export --db state/store.db --output jsonl | wc -l)" -gt "$EVENTS"
check "... with the same CA" openssl verify -CAfile state/ca/ca.pem agent/tls/agent.crt

# --- a manifests repository that stops verifying: refused, audited, last good state stays
edit_json repo/metadata/timestamp.json 'doc["signed"]["version"] += 5'
commit_all repo "tamper with timestamp"
call "a sync of tampered manifests is refused" 422 rita POST /v1/sync
body_has "... naming the rule" "timestamp"
call "the last good releases stay in force" 200 vera GET /v1/releases
body_has "... still listing the release" "demo/1.0.1/demo-1.0.1.tar.gz"
pw audit export --db state/store.db >events.json
check "the refusal is audited with its reason" python3 -c "
import json
events = [e for e in json.load(open('events.json')) if e['action'] == 'sync']
assert events[-1]['outcome'].startswith('refused: ') and 'timestamp' in events[-1]['outcome'], events[-1]"
# A repository that went backwards (an older, validly signed state): refused as rollback.
git -C repo reset -q --hard "$OLD_COMMIT"
call "manifests that went backwards are refused" 422 rita POST /v1/sync
body_has "... as a rollback" "rollback"
call "malformed body: 400" 400 rita POST /v1/servers/provision --data-binary '{"region":'
head -c 2000000 /dev/zero | tr '\0' 'x' >huge.json
call "huge body: 413" 413 rita POST /v1/servers/provision --data-binary @huge.json
call "path tricks never leave the artifact store" 400 agent GET "/v1/artifacts/..%2f..%2fstore.db" --path-as-is \
  --cert agent/tls/agent.crt --key agent/tls/agent.key
call "the controller still answers after all that" 200 vera GET /v1/status
kill -TERM "$CTL_PID"; wait "$CTL_PID"; code=$?
check "SIGTERM stops the controller cleanly" test "$code" = 0
check "a checkpoint was anchored on the way out" pw audit verify --db state/store.db \
  --anchor state/audit-anchor --anchor-key state/keys/checkpoint.pub.json
sqlite3 state/store.db "DROP TRIGGER events_no_update; UPDATE events SET outcome = 'ok' WHERE action = 'enroll' AND outcome LIKE 'refused%'"
refuse "the controller's tampered store is caught" "was changed after it was written" \
  pw audit verify --db state/store.db --anchor state/audit-anchor --anchor-key state/keys/checkpoint.pub.json
finish
