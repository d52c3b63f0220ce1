# Three controller replicas on one PostgreSQL store (tests/support/pg_server.sh), with
# one shared HAProxy (traffic.mode: attach) in front of the region and, in TCP mode, in
# front of the replicas for the agents (agent_url), real agents and the demo service:
#  - every replica answers the API and sees the same rollouts;
#  - kill -9 of the replica that drives the region mid-rollout: another one takes the
#    region over within the lease, the rollout succeeds, no server was made twice and
#    none leaked, and the audit chain is intact;
#  - SIGSTOP of the driving replica past its lease: another one takes over under a
#    higher epoch; the frozen one, resumed, sees its claim lost and acts no more.
#   replicas.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"
source "$here/rollout_lib.sh"

REGION=rp # its servers get 127.136.x.y (the local provider's region number)
LEASE=3
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pw-pg-XXXXXX")
declare -A RPID RPORT
replicas_cleanup() {
  set +e # everything below runs, whatever is already gone
  for n in 1 2 3; do
    if [ -n "${RPID[$n]:-}" ]; then
      kill -CONT "${RPID[$n]}" 2>/dev/null
      kill -9 "${RPID[$n]}" 2>/dev/null
    fi
  done
  [ -f "$WORK/haproxy.pid" ] && kill -9 "$(cat "$WORK/haproxy.pid")" 2>/dev/null
  pkill -9 -f "[p]atchwave-agent run --config $WORK/" 2>/dev/null
  pkill -9 -f "$WORK/servers/.*[d]emo_service.py" 2>/dev/null
  rollout_cleanup
  cd /
  bash "$here/../support/pg_server.sh" stop "$PG_DIR"
}
trap replicas_cleanup EXIT
if ! PG_URL=$(bash "$here/../support/pg_server.sh" start "$PG_DIR"); then
  echo "FAIL the throwaway PostgreSQL server did not start"
  exit 1
fi
PSQL="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql"
sql() { "$PSQL" "$PG_URL" -XAtqc "$1"; }

setup_rollouts "$REGION:1"
release 1.0.0

# One HAProxy for everyone: the region's frontend and backend, and the replicas' front.
APORT=$(free_port)
for n in 1 2 3; do RPORT[$n]=$(free_port); done
cat >haproxy.cfg <<CFG
global
  stats socket $WORK/haproxy.sock mode 600 level admin
  pidfile $WORK/haproxy.pid
defaults
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
frontend fe_$REGION
  mode http
  bind 127.0.0.1:${FRONT[$REGION]}
  default_backend app_$REGION
backend app_$REGION
  mode http
  balance roundrobin
frontend controllers
  mode tcp
  bind 127.0.0.1:$APORT
  default_backend controllers
backend controllers
  mode tcp
  balance roundrobin
  option tcp-check
  default-server inter 300ms fall 1 rise 1
  server r1 127.0.0.1:${RPORT[1]} check
  server r2 127.0.0.1:${RPORT[2]} check
  server r3 127.0.0.1:${RPORT[3]} check
CFG
haproxy -D -f haproxy.cfg >haproxy.log 2>&1 || { echo "FAIL haproxy did not start"; cat haproxy.log; exit 1; }

# replica N: its own state directory, listen port and name; the store, the servers'
# directory, HAProxy and the agents' URL are shared.
for n in 1 2 3; do
  cat >"controller-$n.yaml" <<YAML
state_dir: $WORK/state-$n
listen: 127.0.0.1:${RPORT[$n]}
agent_url: https://127.0.0.1:$APORT
servers_dir: $WORK/servers
manifests: {repository: $WORK/repo@HEAD, root: $WORK/repo/metadata/1.root.json, sync_interval: 1h}
audit: {checkpoint_interval: 1h}
agent_binary: $AGENT_BIN
traffic: {mode: attach, socket: $WORK/haproxy.sock}
rollout: {provision_timeout: 60s, stage_timeout: 60s, health_timeout: 20s, min_requests: 10,
          inconclusive_grace: 20s}
store: {backend: postgresql, url: '$PG_URL'}
replica: {id: r$n, lease: ${LEASE}s}
YAML
done

start_replica() {
  local n=$1 before
  before=$(grep -c '"event":"synced"' "replica-$n.log" 2>/dev/null || true)
  "$PW_BIN" serve --config "controller-$n.yaml" --log-format json 2>>"replica-$n.log" &
  RPID[$n]=$!
  for _ in $(seq 300); do
    [ "$(grep -c '"event":"synced"' "replica-$n.log")" -gt "${before:-0}" ] && return 0
    kill -0 "${RPID[$n]}" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# at N CMD...: the CLI against replica N.
at() { local n=$1; shift; PATCHWAVE_CONTROLLER="https://127.0.0.1:${RPORT[$n]}" "$PW_BIN" "$@"; }
# replicas_json N: GET /v1/replicas from replica N.
replicas_json() { at "$1" replicas --output json; }
# driver RID [FROM]: the replica (1-3) holding the region's lease, asked of replica FROM.
driver() {
  replicas_json "${2:-1}" | python3 -c "
import json, sys
for l in json.load(sys.stdin)['leases']:
    if l['rollout'] == '$1' and l['region'] == '$REGION' and l['expires_in_ms'] > 0:
        print(l['holder'][1:], l['epoch']); break"
}
region_state() {
  at "$1" rollout status "$2" --output json 2>/dev/null | python3 -c "
import json, sys
print([g['state'] for g in json.load(sys.stdin)['regions'] if g['region'] == '$REGION'][0])"
}
# wait_state N RID STATE...: replica N shows the region in one of the states (60 s).
wait_state() {
  local n=$1 rid=$2; shift 2
  for _ in $(seq 600); do
    local s; s=$(region_state "$n" "$rid" || true)
    for want in "$@"; do [ "$s" = "$want" ] && return 0; done
    sleep 0.1
  done
  return 1
}
# a_live_other N: a replica other than N that still runs.
a_live_other() { for m in 1 2 3; do [ "$m" != "$1" ] && kill -0 "${RPID[$m]}" 2>/dev/null && { echo "$m"; return; }; done; }

check "replica 1 starts on PostgreSQL and syncs" start_replica 1
# The replicas share the controller's CA and its checkpoint key, as they would share
# any secret: copied before their first start.
for n in 2 3; do mkdir -p "state-$n"; chmod 700 "state-$n"; cp -a state-1/ca state-1/keys "state-$n/"; done
check "replica 2 starts on the same store" start_replica 2
check "replica 3 starts on the same store" start_replica 3
ln -s state-1 state # operators() issues certificates from state/ca
operators
export PATCHWAVE_CA="$WORK/state-1/ca/ca.pem"
check "a second serve on a replica's state directory is refused" bash -c \
  "! timeout 20 '$PW_BIN' serve --config controller-1.yaml --log-format json 2>second.log && grep -q 'another patchwave serve runs with this state_dir' second.log"
check "GET /v1/replicas: three live replicas" bash -c "
  for _ in \$(seq 50); do
    n=\$('$PW_BIN' replicas --controller https://127.0.0.1:${RPORT[2]} --output json | python3 -c 'import json,sys; print(sum(r[\"live\"] for r in json.load(sys.stdin)[\"replicas\"]))')
    [ \"\$n\" = 3 ] && exit 0; sleep 0.2
  done; exit 1"

# --- kill -9 of the driving replica mid-rollout ---------------------------------------
check "rollout start 1.0.0 through replica 2" at 2 rollout start demo-service@1.0.0
RID=$(at 3 rollout list --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollouts"][-1]["id"])')
for n in 1 2 3; do
  check "... replica $n lists it" bash -c "PATCHWAVE_CONTROLLER=https://127.0.0.1:${RPORT[$n]} '$PW_BIN' rollout list --output json | grep -qF '\"$RID\"'"
done
check "the region reaches staging" wait_state 1 "$RID" staging verifying shifting
read -r D EPOCH < <(driver "$RID") || true
check "one replica drives the region (r$D, epoch $EPOCH)" test -n "$D"
[ -n "$D" ] || { finish; exit 1; }
check "patchwave replicas (asked of replica 3) names the driver" bash -c \
  "'$PW_BIN' replicas --controller https://127.0.0.1:${RPORT[3]} | grep -Eq '^ +$RID +$REGION +r$D +epoch $EPOCH +held'"
killed_at=$(date +%s%N)
kill -9 "${RPID[$D]}"; wait "${RPID[$D]}" 2>/dev/null || true; RPID[$D]=
O=$(a_live_other "$D")
check "another replica takes the region over" bash -c "
  for _ in \$(seq 200); do
    grep -q '\"event\":\"lease_claimed\",\"from\":\"r$D\".*\"region\":\"$REGION\"' replica-*.log && exit 0; sleep 0.1
  done; exit 1"
took_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
echo "     failover: the region was claimed again $took_ms ms after the kill (lease ${LEASE}s)"
check "... within the lease and a second" test "$took_ms" -lt $(( (LEASE + 2) * 1000 ))
claimed=$(grep -h "\"event\":\"lease_claimed\",\"from\":\"r$D\".*\"region\":\"$REGION\".*\"rollout\":\"$RID\"" replica-*.log | head -1)
EPOCH2=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["epoch"])' "$claimed" 2>/dev/null || echo 0)
D2=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["replica"])' "$claimed" 2>/dev/null || true)
check "... under a higher epoch ($D2, epoch $EPOCH2)" test "$EPOCH2" -gt "$EPOCH"
check "the rollout succeeds on the survivors" timeout 180 \
  env PATCHWAVE_CONTROLLER="https://127.0.0.1:${RPORT[$O]}" "$PW_BIN" rollout status "$RID" --watch
check "the region's frontend serves 1.0.0" serves "${FRONT[$REGION]}" 1.0.0
check "no server was made twice: two servers for the rollout, both serving" test \
  "$(sql "SELECT COUNT(*) FROM servers WHERE rollout_id = '$RID' AND state = 'serving'")/$(sql "SELECT COUNT(*) FROM servers WHERE rollout_id = '$RID'")" = 2/2
check "no leaked agent: two agents run" test "$(pgrep -fc "[p]atchwave-agent run --config $WORK/" || true)" = 2
check "the audit chain is intact" at "$O" audit verify

# --- SIGSTOP past the lease ---------------------------------------------------------
check "the killed replica starts again" start_replica "$D"
release 1.0.1
for n in 1 2 3; do at "$n" sync >/dev/null || echo "FAIL replica $n did not sync"; done
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:${FRONT[$REGION]}/" --concurrency 2 \
  --out load.json &
LOAD=$!; PIDS+=($LOAD)
sleep 1
check "rollout start 1.0.1 under load" at "$D" rollout start demo-service@1.0.1
RID2=$(at 1 rollout list --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollouts"][-1]["id"])')
check "the region starts shifting traffic" wait_state 1 "$RID2" shifting
read -r F FEPOCH < <(driver "$RID2") || true
check "one replica drives it (r$F, epoch $FEPOCH)" test -n "$F"
[ -n "$F" ] || { finish; exit 1; }
kill -STOP "${RPID[$F]}"
O=$(a_live_other "$F")
check "frozen past its lease, another replica takes over" bash -c "
  for _ in \$(seq 200); do
    d=\$('$PW_BIN' replicas --controller https://127.0.0.1:${RPORT[$O]} --output json | python3 -c '
import json, sys
for l in json.load(sys.stdin)[\"leases\"]:
    if l[\"rollout\"] == \"$RID2\" and l[\"region\"] == \"$REGION\": print(l[\"holder\"], l[\"epoch\"])')
    case \"\$d\" in r$F*|'') sleep 0.1 ;; *) exit 0 ;; esac
  done; exit 1"
kill -CONT "${RPID[$F]}"
check "the resumed replica finds its claim lost and stands down" bash -c "
  for _ in \$(seq 100); do
    grep -q '\"event\":\"lease_lost\".*\"region\":\"$REGION\".*\"rollout\":\"$RID2\"' replica-$F.log && exit 0; sleep 0.1
  done; exit 1"
check "... it is still alive and answers" at "$F" rollout list
check "the rollout succeeds" timeout 180 \
  env PATCHWAVE_CONTROLLER="https://127.0.0.1:${RPORT[$O]}" "$PW_BIN" rollout status "$RID2" --watch
check "the resumed replica wrote nothing for the region after its epoch ended" bash -c "
  ! grep -q '\"event\":\"rollout_tick_failed\".*$RID2' replica-$F.log ||
    grep '\"event\":\"rollout_tick_failed\".*$RID2' replica-$F.log | grep -q fenced"
kill -TERM $LOAD; wait $LOAD || true
check "no client request was lost across the takeover" python3 -c "
import json; d = json.load(open('load.json'))
assert d['requests'] > 0 and d['connection_errors'] == 0 and not d['by_status'], d"
check "the region's frontend serves 1.0.1" serves "${FRONT[$REGION]}" 1.0.1
check "two servers serve, the old ones are decommissioned" test \
  "$(sql "SELECT COUNT(*) FROM servers WHERE state = 'serving'")/$(sql "SELECT COUNT(*) FROM servers WHERE state = 'serving' AND rollout_id = '$RID2'")" = 2/2
check "no leaked agent: two agents run" test "$(pgrep -fc "[p]atchwave-agent run --config $WORK/" || true)" = 2
for n in 1 2 3; do check "... replica $n: audit verify" at "$n" audit verify; done
finish
