# The rollout engine end to end with real parts: the controller, a real git manifests
# repository, real agents on their own loopback addresses (local provider), a real
# HAProxy the controller runs, and a real service (tests/support/demo_service.py).
#  - a first rollout across three regions in two waves succeeds;
#  - the next release replaces every server under continuous load without losing a
#    request;
#  - a release whose new servers answer 5xx is rolled back on its own, halting the later
#    wave; one that never becomes healthy is rolled back at the health gate;
#  - nothing leaks: every server is in service or decommissioned, no stray agent runs.
#   rollout_flow.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pkill -9 -f "[p]atchwave-agent run --config $WORK/" 2>/dev/null || true
  pkill -9 -f "[d]emo_service.py.*" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${PW_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

make_repo repo
# release VERSION [MODE [URGENCY]]: demo_service.py in a tarball, signed and published.
release() {
  local version=$1 mode=${2:-ok} urgency=${3:-routine} src
  src=$(mktemp -d "$WORK/src-XXXXXX"); mkdir -p "$src/bin"
  cp "$here/../support/demo_service.py" "$src/bin/"
  printf '#!/bin/sh\nexec python3 "$(dirname "$0")/demo_service.py" "$@"\n' >"$src/bin/demo-service"
  chmod 755 "$src/bin/demo-service" "$src/bin/demo_service.py"
  mkdir -p dist && tar -czf "dist/demo-$version.tar.gz" -C "$src" .
  pw release add repo "dist/demo-$version.tar.gz" --app demo-service --version "$version" \
    --urgency "$urgency" --run 'bin/demo-service --host {host} --port {port}' \
    --env "DEMO_MODE=$mode" --health http:18080/healthz --health-successes 1 >/dev/null
  pw release sign repo --key keys/alice >/dev/null
  pw release sign repo --key keys/carol >/dev/null
  pw release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null
}
APPROVER=$(cat keys/alice.pub)
cat >fleet.yaml <<YAML
version: 1
defaults:
  servers: 2
  canary_steps: [10, 50, 100]
  health_successes: 2
  step_wait: 2s
  bake_time: 2s
  failure_policy: halt
  max_error_rate: 1.0
  emergency: {step_wait: 1s, bake_time: 1s}
regions:
  - {name: bw, wave: 1, provider: {kind: local}, backend: app_bw,
     approvers: {threshold: 1, keys: [$APPROVER]}}
  - {name: by, wave: 2, provider: {kind: local}, backend: app_by,
     approvers: {threshold: 1, keys: [$APPROVER]}}
  - {name: nw, wave: 2, provider: {kind: local}, backend: app_nw,
     approvers: {threshold: 1, keys: [$APPROVER]}}
YAML
pw release add repo fleet.yaml --name fleet/policy.yaml >/dev/null
release 1.0.0

CPORT=$(free_port); BW=$(free_port); BY=$(free_port); NW=$(free_port)
cat >controller.yaml <<YAML
state_dir: $WORK/state
listen: 127.0.0.1:$CPORT
manifests: {repository: $WORK/repo@HEAD, root: $WORK/repo/metadata/1.root.json, sync_interval: 1h}
audit: {checkpoint_interval: 1h}
agent_binary: $AGENT_BIN
traffic:
  frontends: {bw: 127.0.0.1:$BW, by: 127.0.0.1:$BY, nw: 127.0.0.1:$NW}
rollout: {provision_timeout: 60s, stage_timeout: 60s, health_timeout: 20s, min_requests: 10,
          inconclusive_grace: 20s}
YAML
"$PW_BIN" serve --config controller.yaml --log-format json 2>>controller.log &
PIDS+=($!)
wait_log() { for _ in $(seq 300); do grep -q "$1" controller.log && return 0; sleep 0.1; done; return 1; }
check "the controller starts and syncs" wait_log '"event":"synced"'
check "... and runs HAProxy with a frontend per region" wait_log '"event":"haproxy_started"'
pw ca issue-operator --dir state/ca --name rita --role release-engineer --out rita >/dev/null
pw ca issue-operator --dir state/ca --name vera --role viewer --out vera >/dev/null
export PATCHWAVE_CONTROLLER="https://127.0.0.1:$CPORT" PATCHWAVE_CA="$WORK/state/ca/ca.pem"
export PATCHWAVE_CERT="$WORK/rita.crt" PATCHWAVE_KEY="$WORK/rita.key"

# --- plan, then the first rollout into empty regions ---------------------------------
check "rollout plan" pw rollout plan demo-service@1.0.0
expect_out "... says nothing changed" "Nothing has been changed."
expect_out "... an empty region has nothing to retire" "retire: none (first deployment in this region)"
check "rollout plan --output json" pw rollout plan demo-service@1.0.0 --regions by,nw --output json
cp "$WORK/out" plan.json
check "... one wave with by and nw, two fresh servers each" python3 -c "
import json; p = json.load(open('plan.json')); w = p['waves']
assert [x['wave'] for x in w] == [2] and [r['region'] for r in w[0]['regions']] == ['by', 'nw'], w
assert all(len(r['create']) == 2 for r in w[0]['regions'])"
check "... and changed nothing" test "$(pw rollout list --output json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rollouts"]))')" = 0
refuse "an unknown release is named" "demo-service@9.9.9: no verified release" pw rollout plan demo-service@9.9.9
refuse "an unknown region is named" "region 'xx' is not in the fleet policy" pw rollout plan demo-service@1.0.0 --regions xx
refuse "a viewer may not start a rollout" "HTTP 403" pw rollout start demo-service@1.0.0 --cert vera.crt --key vera.key

check "rollout start 1.0.0" pw rollout start demo-service@1.0.0
RID=$(pw rollout list --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollouts"][-1]["id"])')
refuse "a second rollout into the same regions is refused" "is in rollout $RID already" pw rollout start demo-service@1.0.0
check "the rollout succeeds in every region (status --watch exits 0)" timeout 180 "$PW_BIN" rollout status "$RID" --watch
front() { curl -sS --max-time 5 "http://127.0.0.1:$1/"; }
for port in $BW $BY $NW; do
  check "the region's frontend :$port serves 1.0.0" bash -c "[ \"\$(curl -sS --max-time 5 http://127.0.0.1:$port/)\" = 'demo-service 1.0.0' ]"
done
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
RID2=$(pw rollout list --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollouts"][-1]["id"])')
check "... succeeds" timeout 180 "$PW_BIN" rollout status "$RID2" --watch
sleep 1; kill -TERM $LOAD; wait $LOAD || true
check "no request was lost during the cutover (no errors, no non-2xx)" python3 -c "
import json; d = json.load(open('load.json')); print(d)
assert d['requests'] > 200, d
assert d['connection_errors'] == 0 and not d['by_status'] and d['ok'] == d['requests'], d
assert d['by_body'].get('demo-service 1.0.0', 0) > 0 and d['by_body'].get('demo-service 1.0.1', 0) > 0, d"
check "the old servers are decommissioned, six new ones serve" bash -c \
  "[ \"\$(servers_in() { :; }; '$PW_BIN' servers list --output json | python3 -c \"import json,sys; s=json.load(sys.stdin)['servers']; print(sum(1 for x in s if x['state']=='serving' and x['rollout']=='$RID2'), sum(1 for x in s if x['state']=='decommissioned' and x['rollout']=='$RID'))\")\" = '6 6' ]"
for port in $BW $BY $NW; do
  check "the frontend :$port serves 1.0.1" bash -c "[ \"\$(curl -sS --max-time 5 http://127.0.0.1:$port/)\" = 'demo-service 1.0.1' ]"
done

# --- a broken release is rolled back on its own --------------------------------------
release 1.0.2 error-5xx
check "sync the broken release" pw sync
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:$BW/" --concurrency 2 --out load2.json &
LOAD=$!; PIDS+=($LOAD)
check "rollout start 1.0.2" pw rollout start demo-service@1.0.2
RID3=$(pw rollout list --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollouts"][-1]["id"])')
TESTS=$((TESTS + 1))
code=0; timeout 180 "$PW_BIN" rollout status "$RID3" --watch >watch3.txt 2>&1 || code=$?
if [ "$code" = 1 ]; then echo "ok   ... it does not succeed (status --watch exits 1)"; else
  echo "FAIL ... status --watch exit $code"; cat watch3.txt; FAILURES=$((FAILURES + 1)); fi
kill -TERM $LOAD; wait $LOAD || true
check "rollout status --output json" pw rollout status "$RID3" --output json
cp "$WORK/out" status3.json
check "... bw rolled back on the analysis, by and nw never started (failure_policy halt)" python3 -c "
import json; r = json.load(open('status3.json')); g = {x['region']: x for x in r['regions']}
assert r['state'] == 'rolled_back', r['state']
assert g['bw']['state'] == 'rolled_back' and 'analysis at 10%' in g['bw']['reason'], g['bw']
assert g['by']['state'] == 'aborted' and 'failure_policy: halt' in g['by']['reason'], g['by']"
check "bw serves 1.0.1 again" bash -c "[ \"\$(curl -sS --max-time 5 http://127.0.0.1:$BW/)\" = 'demo-service 1.0.1' ]"
check "the broken release's servers are decommissioned" bash -c \
  "'$PW_BIN' servers list --output json | python3 -c \"import json,sys; s=[x for x in json.load(sys.stdin)['servers'] if x['rollout']=='$RID3']; assert len(s)==2 and all(x['state']=='decommissioned' for x in s), s\""
check "... and their agents are gone" bash -c "! pgrep -f '[s]ervers/bw-$RID3'"

# --- one that never becomes healthy is rolled back at the gate ------------------------
release 1.0.3 fail-health
check "sync" pw sync
check "rollout start 1.0.3 to nw only" pw rollout start demo-service@1.0.3 --regions nw
RID4=$(pw rollout list --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollouts"][-1]["id"])')
TESTS=$((TESTS + 1))
code=0; timeout 180 "$PW_BIN" rollout status "$RID4" --watch >watch4.txt 2>&1 || code=$?
if [ "$code" = 1 ] && grep -q "health gate" watch4.txt; then echo "ok   ... rolled back at the health gate"; else
  echo "FAIL ... exit $code"; cat watch4.txt; FAILURES=$((FAILURES + 1)); fi
check "nw still serves 1.0.1" bash -c "[ \"\$(curl -sS --max-time 5 http://127.0.0.1:$NW/)\" = 'demo-service 1.0.1' ]"

# --- nothing leaked, everything audited ------------------------------------------------
check "every server is in service or decommissioned" bash -c \
  "'$PW_BIN' servers list --output json | python3 -c \"import json,sys; s=json.load(sys.stdin)['servers']; bad=[x['name'] for x in s if x['state'] not in ('serving','decommissioned')]; assert not bad, bad; assert sum(x['state']=='serving' for x in s)==6\""
check "exactly six agents run" test "$(pgrep -fc '[p]atchwave-agent run --config '"$WORK"/)" = 6
check "the audit chain is intact" pw audit verify
check "... and records each region's transitions" bash -c \
  "'$PW_BIN' audit export --db state/store.db --output jsonl | grep -c '\"action\":\"rollout.region\"' | awk '\$1 > 20 {ok=1} END {exit !ok}'"
finish
