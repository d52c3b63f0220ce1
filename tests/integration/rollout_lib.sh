# Shared set-up of the rollout tests (rollout_flow.sh, rollout_crash.sh): a manifests
# repository with a fleet policy, releases of examples/demo-service/demo_service.py, and a real
# controller with a managed HAProxy. Source after lib.sh and agent/pki.sh.

PIDS=()
CTL_PID=
rollout_cleanup() {
  [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  # What a killed controller leaves behind: its HAProxy, the agents, their services.
  [ -f state/haproxy/haproxy.pid ] && kill -9 "$(cat state/haproxy/haproxy.pid)" 2>/dev/null || true
  pkill -9 -f "[p]atchwave-agent run --config $WORK/" 2>/dev/null || true
  pkill -9 -f "$WORK/state/servers/.*[d]emo_service.py" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${PW_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap rollout_cleanup EXIT

# release VERSION [MODE [URGENCY]]: demo_service.py in a tarball, signed and published.
release() {
  local version=$1 mode=${2:-ok} urgency=${3:-routine} src
  src=$(mktemp -d "$WORK/src-XXXXXX"); mkdir -p "$src/bin"
  cp "$here/../../examples/demo-service/demo_service.py" "$src/bin/"
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

# setup_rollouts REGION:WAVE...: the repository, the fleet policy and the controller's
# configuration; FRONT[REGION] is the port of the region's frontend. Regions open without
# approvals unless APPROVERS[REGION] says otherwise ("{threshold: N, keys: [...]}");
# REGION_EXTRA[REGION] adds fields to a region (", windows: [...]"), FLEET_TOP top-level
# fields to the policy and CONTROLLER_EXTRA lines to controller.yaml.
declare -A FRONT APPROVERS REGION_EXTRA
FLEET_TOP=${FLEET_TOP:-}
CONTROLLER_EXTRA=${CONTROLLER_EXTRA:-}
setup_rollouts() {
  make_repo repo
  local approver; approver=$(cat keys/alice.pub)
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
$FLEET_TOP
regions:
YAML
  local frontends=""
  for spec in "$@"; do
    local name=${spec%%:*} wave=${spec##*:}
    FRONT[$name]=$(free_port)
    local approvers=${APPROVERS[$name]:-}
    [ -n "$approvers" ] || approvers="{threshold: 0, keys: [$approver]}"
    printf '  - {name: %s, wave: %s, provider: {kind: local}, backend: app_%s,\n     approvers: %s%s}\n' \
      "$name" "$wave" "$name" "$approvers" "${REGION_EXTRA[$name]:-}" >>fleet.yaml
    frontends+="${frontends:+, }$name: 127.0.0.1:${FRONT[$name]}"
  done
  pw release add repo fleet.yaml --name fleet/policy.yaml >/dev/null
  CPORT=$(free_port)
  cat >controller.yaml <<YAML
state_dir: $WORK/state
listen: 127.0.0.1:$CPORT
manifests: {repository: $WORK/repo@HEAD, root: $WORK/repo/metadata/1.root.json, sync_interval: 1h}
audit: {checkpoint_interval: 1h}
agent_binary: $AGENT_BIN
traffic:
  frontends: {$frontends}
rollout: {provision_timeout: 60s, stage_timeout: 60s, health_timeout: 20s, min_requests: 10,
          inconclusive_grace: 20s}
$CONTROLLER_EXTRA
YAML
  export PATCHWAVE_CONTROLLER="https://127.0.0.1:$CPORT" PATCHWAVE_CA="$WORK/state/ca/ca.pem"
  export PATCHWAVE_CERT="$WORK/rita.crt" PATCHWAVE_KEY="$WORK/rita.key"
}

# start_controller: runs `patchwave serve` and waits until it listens and has synced.
start_controller() {
  local before; before=$(grep -c '"event":"synced"' controller.log 2>/dev/null || true)
  "$PW_BIN" serve --config controller.yaml --log-format json 2>>controller.log &
  CTL_PID=$!
  for _ in $(seq 300); do
    [ "$(grep -c '"event":"synced"' controller.log)" -gt "${before:-0}" ] && return 0
    kill -0 "$CTL_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# wait_log TEXT: the controller's log says so within 30 s.
wait_log() { for _ in $(seq 300); do grep -qF -- "$1" controller.log && return 0; sleep 0.1; done; return 1; }

operators() {
  [ -f rita.crt ] && return 0
  pw ca issue-operator --dir state/ca --name rita --role release-engineer --out rita >/dev/null
  pw ca issue-operator --dir state/ca --name vera --role viewer --out vera >/dev/null
}

latest_rollout() {
  pw rollout list --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollouts"][-1]["id"])'
}

# serves PORT VERSION: the frontend answers with that version.
serves() { [ "$(curl -sS --max-time 5 "http://127.0.0.1:$1/")" = "demo-service $2" ]; }

# leak_free N: every server is in service or decommissioned, N in service, and exactly N
# agent processes run.
leak_free() {
  "$PW_BIN" servers list --output json | python3 -c "
import json, sys
s = json.load(sys.stdin)['servers']
bad = [x['name'] + ':' + x['state'] for x in s if x['state'] not in ('serving', 'decommissioned')]
assert not bad, bad
assert sum(x['state'] == 'serving' for x in s) == $1, s" &&
    [ "$(pgrep -fc "[p]atchwave-agent run --config $WORK/" || true)" = "$1" ]
}
