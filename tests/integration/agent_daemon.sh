# patchwave-agent as a daemon, black box: a real agent process on loopback with test
# certificates, a stand-in controller (fake_controller.py) for enrollment and artifacts,
# and curl as the controller's client. Enrollment, mutual TLS (and its refusals),
# staging verified releases (resumed downloads, idempotence, tampering), starting
# (idempotent; on the agent's own address), health-checking and stopping a tiny service,
# restart, decommission. Like a server of the local provider, the agent listens on a
# loopback address of its own ($AHOST) and its service must listen there too.
#   agent_daemon.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${PW_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

make_pki pki

# --- a signed repository with a few releases -------------------------------------
# service_tarball FILE: bin/demo-service, a small HTTP service on $HOST:$PORT whose
# /healthz answers 200 (or 500 when HEALTH=bad); bin/crash exits 3 at once;
# bin/demo_service.py, examples/demo-service/demo_service.py (the packaged test service).
service_tarball() {
  local src
  src=$(mktemp -d "$WORK/src-XXXXXX")
  mkdir -p "$src/bin" "$(dirname "$1")"
  cat >"$src/bin/demo-service" <<'PY'
#!/usr/bin/env python3
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/healthz" and os.environ.get("HEALTH", "ok") == "ok"
        self.send_response(200 if ok else 500); self.end_headers()
        self.wfile.write(("%s %s\n" % (os.environ["PATCHWAVE_APP"], os.environ["PATCHWAVE_VERSION"])).encode())
    def log_message(self, *a): pass
print("listening on", os.environ["HOST"], os.environ["PATCHWAVE_HOST"], os.environ["PORT"], flush=True)
http.server.HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), H).serve_forever()
PY
  cp "$here/../../examples/demo-service/demo_service.py" "$src/bin/demo_service.py"
  printf '#!/bin/sh\necho "cannot start: no database" >&2\nexit 3\n' >"$src/bin/crash"
  chmod 755 "$src/bin/demo-service" "$src/bin/crash" "$src/bin/demo_service.py"
  head -c 200000 /dev/urandom >"$src/payload.bin"   # big enough to cut a download
  tar -czf "$1" -C "$src" .
  rm -rf "$src"
}
make_repo repo
declare -A SHA
release() {  # VERSION RUN [extra release add args]
  local version=$1 run=$2; shift 2
  service_tarball "artifacts/demo-$version.tar.gz"
  pw release add repo "artifacts/demo-$version.tar.gz" --app demo-service --version "$version" \
    --name "demo/$version/demo-$version.tar.gz" --run "$run" --health http:8080/healthz "$@" >/dev/null
  SHA[$version]=$(sha256sum "artifacts/demo-$version.tar.gz" | cut -d' ' -f1)
}
release 1.0.1 bin/demo-service
release 1.0.2 bin/demo-service            # its served artifact is swapped below
release 1.0.3 bin/missing                 # argv[0] not in the artifact
release 1.0.4 bin/crash                   # exits at once
release 1.0.5 bin/demo-service --env HEALTH=bad   # never healthy
release 1.0.6 'bin/demo_service.py --host {host} --port {port} --version 1.0.6'  # {host} in argv
pw release sign repo --key keys/alice >/dev/null
pw release sign repo --key keys/carol >/dev/null
pw release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null
cp "artifacts/demo-1.0.1.tar.gz" "artifacts/demo-1.0.2.tar.gz.swap"
head -c "$(stat -c %s artifacts/demo-1.0.2.tar.gz)" /dev/urandom >artifacts/demo-1.0.2.tar.gz

# body VERSION [REPO]: the PUT body: every metadata file, and the artifact URL.
body() {
  python3 - "${2:-repo}/metadata" "https://127.0.0.1:$CPORT/artifacts/demo-$1.tar.gz" <<'PY'
import json, os, sys
d = sys.argv[1]
print(json.dumps({"metadata": {f: open(os.path.join(d, f)).read() for f in os.listdir(d) if f.endswith(".json")},
                  "artifact_url": sys.argv[2]}))
PY
}

# --- the stand-in controller and the agent ----------------------------------------
mkdir -p ctl && printf 'token-1\n' >token && chmod 600 token
start_controller() {  # extra args
  rm -f ctl/port
  python3 "$here/agent/fake_controller.py" --cert pki/controller.pem --key pki/controller.key \
    --ca pki/ca.pem --ca-key pki/ca.key --token token-1 --artifacts artifacts \
    --port-file ctl/port "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -f ctl/port ] && break; sleep 0.1; done
  CPORT=$(cat ctl/port)
}
start_controller --cut-after 50000
AHOST=127.0.3.7   # the agent's own loopback address, as the local provider gives (127.R.S.N)
APORT=$(free_port)
write_config() {  # STATE_DIR URL_HOST [name]
  cat >"$1.json" <<JSON
{"name": "${3:-agent-1}", "state_dir": "$WORK/$1", "listen": "$AHOST:$APORT",
 "controller_url": "https://$2:$CPORT", "controller_ca": "$WORK/pki/ca.pem",
 "pinned_root": "$WORK/repo/metadata/1.root.json", "enrollment_token_file": "$WORK/token",
 "max_request_bytes": 262144, "startup_window_ms": 700, "stop_grace_ms": 3000,
 "network_timeout_ms": 5000, "log_format": "json"}
JSON
}
start_agent() {  # CONFIG: starts the agent, waits until it listens
  local before
  before=$(grep -c '"event":"listening"' agent.log 2>/dev/null || true)
  "$AGENT_BIN" run --config "$1" 2>>agent.log &
  AGENT_PID=$!
  PIDS+=($AGENT_PID)
  for _ in $(seq 100); do
    [ "$(grep -c '"event":"listening"' agent.log)" -gt "${before:-0}" ] && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# The agent's certificate (issued by fake_controller.py) names IP 127.0.0.1: curl checks
# that name and connects to $AHOST.
TO_AGENT=(--connect-to "127.0.0.1:$APORT:$AHOST:$APORT")
# api METHOD PATH [curl args]: as the controller; stdout = body, then the HTTP status.
api() {
  local method=$1 path=$2; shift 2
  curl -sS --path-as-is -X "$method" --cacert pki/ca.pem --cert pki/controller.pem \
    --key pki/controller.key -w '\n%{http_code}' "${TO_AGENT[@]}" "$@" "https://127.0.0.1:$APORT$path"
}
# status_is CODE: the last line of $WORK/out
status_is() { [ "$(tail -n1 "$WORK/out")" = "$1" ]; }
status_is_resp() { [ "$(tail -n1 "$WORK/resp")" = "$1" ]; }
call() {  # NAME CODE METHOD PATH [curl args]: the call answers CODE
  local name=$1 code=$2; shift 2
  TESTS=$((TESTS + 1))
  api "$@" >"$WORK/out" 2>"$WORK/err" || true
  cp "$WORK/out" "$WORK/resp"
  if status_is "$code"; then echo "ok   $name"; else
    echo "FAIL $name: expected HTTP $code"; sed 's/^/     | /' "$WORK/out" "$WORK/err" | head -10
    FAILURES=$((FAILURES + 1)); fi
}
json_field() {  # PYTHON-EXPRESSION over `d` (the body of the last call)
  python3 -c 'import json,sys; lines=open(sys.argv[1]).read().rsplit("\n",1)[0]; d=json.loads(lines); print(eval(sys.argv[2]))' "$WORK/resp" "$1"
}
wait_release() {  # SHA: until its job is staged or failed; prints the state
  for _ in $(seq 150); do
    api GET "/v1/releases/$1" >"$WORK/resp" 2>/dev/null || true
    local state
    state=$(json_field 'd.get("state")' 2>/dev/null || echo "?")
    if [ "$state" = staged ] || [ "$state" = failed ]; then echo "$state"; return; fi
    sleep 0.2
  done
  echo timeout
}
is() { [ "$1" = "$2" ]; }

# --- enrollment refusals -------------------------------------------------------------
write_config bad-host localhost
refuse "enrollment checks the controller's host name" "hostname mismatch" \
  "$AGENT_BIN" run --config bad-host.json
write_config bad-token 127.0.0.1
printf 'wrong-token\n' >wrong-token && chmod 600 wrong-token
refuse "enrollment with a wrong token is refused by the controller" "refused enrollment (HTTP 403)" \
  "$AGENT_BIN" run --config bad-token.json --enrollment-token-file "$WORK/wrong-token"
check "a refused enrollment leaves no certificate" test ! -e bad-token/tls/agent.crt
refuse "an unknown configuration key is named" "unknown key 'colour'" \
  bash -c "echo '{\"colour\": 1}' >x.json && '$AGENT_BIN' run --config x.json"

# --- enrollment and mutual TLS -------------------------------------------------------
write_config state 127.0.0.1
check "agent enrolls and listens" start_agent state.json
check "private key is 0600" test "$(stat -c %a state/tls/agent.key)" = 600
check "certificate chains to the controller CA" openssl verify -CAfile pki/ca.pem state/tls/agent.crt
check "the token is not logged" bash -c '! grep -q token-1 agent.log'
call "status over mutual TLS" 200 GET /v1/status
check "status names the agent" is "$(json_field 'd["agent"]["name"]')" agent-1
FINGERPRINT=$(json_field 'd["agent"]["certificate_sha256"]')

tls_refused() {  # NAME CURL-ARGS...: the request gets no HTTP answer
  local name=$1; shift
  TESTS=$((TESTS + 1))
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' "${TO_AGENT[@]}" "$@" 2>"$WORK/err" || true)
  if [ "$code" = 000 ]; then echo "ok   $name"; else
    echo "FAIL $name: got HTTP $code"; FAILURES=$((FAILURES + 1)); fi
}
URL="https://127.0.0.1:$APORT/v1/status"
tls_refused "no client certificate: refused at TLS" --cacert pki/ca.pem "$URL"
tls_refused "client certificate from another CA: refused at TLS" --cacert pki/ca.pem \
  --cert pki/rogue.pem --key pki/rogue.key "$URL"
tls_refused "certificate from the right CA but not the controller's: refused" --cacert pki/ca.pem \
  --cert pki/impostor.pem --key pki/impostor.key "$URL"
tls_refused "the agent's certificate does not match another host name" --cacert pki/ca.pem \
  --cert pki/controller.pem --key pki/controller.key \
  --resolve "wrong.example:$APORT:$AHOST" "https://wrong.example:$APORT/v1/status"

# --- staging -----------------------------------------------------------------------
body 1.0.1 >put-1.0.1.json
call "PUT a release is accepted (202)" 202 PUT "/v1/releases/${SHA[1.0.1]}" --data-binary @put-1.0.1.json
check "the release is staged" is "$(wait_release "${SHA[1.0.1]}")" staged
check "the staged tree is the artifact's" test -x "state/releases/${SHA[1.0.1]}/bin/demo-service"
call "the release's job" 200 GET "/v1/releases/${SHA[1.0.1]}"
call "the same PUT again is a no-op (200, staged)" 200 PUT "/v1/releases/${SHA[1.0.1]}" --data-binary @put-1.0.1.json
check "the cut download was resumed with a range request" grep -q "download_resuming" agent.log
check "no download is left behind" test -z "$(ls state/downloads)"

body 1.0.2 >put.json
call "an artifact whose hash differs: accepted, then" 202 PUT "/v1/releases/${SHA[1.0.2]}" --data-binary @put.json
check "... the job fails" is "$(wait_release "${SHA[1.0.2]}")" failed
check "... naming the hash rule" bash -c "grep -q 'does not match' '$WORK/resp'"
check "... and nothing of it is installed" test ! -e "state/releases/${SHA[1.0.2]}"
check "... nor left in downloads" test -z "$(ls state/downloads)"

body 1.0.3 >put.json
call "a release without a runnable command: accepted, then" 202 PUT "/v1/releases/${SHA[1.0.3]}" --data-binary @put.json
check "... the job fails" is "$(wait_release "${SHA[1.0.3]}")" failed
check "... naming the rule" bash -c "grep -q 'no runnable command' '$WORK/resp'"
check "... and nothing of it is installed" test ! -e "state/releases/${SHA[1.0.3]}"

cp -r repo tampered
edit_json tampered/metadata/targets.json 'doc["signed"]["targets"][list(doc["signed"]["targets"])[0]]["length"] += 1'
body 1.0.4 tampered >put.json
call "metadata that does not verify against the pinned root: 422" 422 PUT "/v1/releases/${SHA[1.0.4]}" --data-binary @put.json
check "... naming the role" bash -c "grep -q 'targets' '$WORK/resp'"
body 1.0.4 >put.json
call "a sha256 no signed target has: 404" 404 PUT "/v1/releases/$(printf '%064d' 7)" --data-binary @put.json
call "a malformed body: 400" 400 PUT "/v1/releases/${SHA[1.0.4]}" --data-binary '{"metadata": 3'
head -c 300000 /dev/zero | tr '\0' 'a' >big.json
call "an oversized body: 413" 413 PUT "/v1/releases/${SHA[1.0.4]}" --data-binary @big.json
call "path tricks in the URL: 400" 400 PUT "/v1/releases/../../../etc/passwd" --data-binary @put.json
call "encoded path tricks: 400" 400 PUT "/v1/releases/%2e%2e%2f%2e%2e%2fetc" --data-binary @put.json
call "unknown endpoint: 404" 404 GET "/v1/nothing"
call "wrong method: 405" 405 DELETE "/v1/status"

for v in 1.0.4 1.0.5 1.0.6; do
  body $v >put.json
  api PUT "/v1/releases/${SHA[$v]}" --data-binary @put.json >/dev/null 2>&1 || true
  check "release $v staged beside the first" is "$(wait_release "${SHA[$v]}")" staged
done

# --- the service -----------------------------------------------------------------------
SPORT=$(free_port)
call "start the service" 200 POST /v1/service/start --data-binary "{\"release\":\"${SHA[1.0.1]}\",\"port\":$SPORT}"
check "it runs with a pid" test "$(json_field 'd["pid"]')" -gt 0
healthy=no
for _ in $(seq 50); do
  if api GET /v1/health >"$WORK/out" 2>/dev/null && status_is 200; then
    cp "$WORK/out" "$WORK/resp"; healthy=yes; break; fi
  sleep 0.1
done
check "health check passes (HTTP GET on the host and port the agent gave)" is "$healthy" yes
check "... with timings" test "$(json_field 'd["elapsed_ms"]')" -ge 0
check "the service got HOST and PATCHWAVE_HOST: the agent's own address" \
  grep -qx "listening on $AHOST $AHOST $SPORT" "state/logs/${SHA[1.0.1]}/stdout.log"
check "... it listens there, not on 127.0.0.1" \
  bash -c "curl -sf http://$AHOST:$SPORT/healthz && ! curl -s http://127.0.0.1:$SPORT/healthz"
call "status before a repeated start" 200 GET /v1/status
SERVICE_PID=$(json_field 'd["service"]["pid"]' || true)
call "the same start again: 200 (the controller may repeat it)" 200 POST /v1/service/start \
  --data-binary "{\"release\":\"${SHA[1.0.1]}\",\"port\":$SPORT}"
check "... a no-op: the same pid" is "$(json_field 'd["pid"]')" "$SERVICE_PID"
check "... saying it was already running" is "$(json_field 'd["already_running"]')" True
check "... not started twice" is "$(json_field 'd["starts"]')" 1
check "... still running" is "$(json_field 'd["state"]')" running
call "status shows the running service and the last health" 200 GET /v1/status
check "... running" is "$(json_field 'd["service"]["state"]')" running
check "... healthy" is "$(json_field 'd["health"]["healthy"]')" True
call "starting a second service while one runs: 409" 409 POST /v1/service/start --data-binary "{\"release\":\"${SHA[1.0.5]}\"}"
call "the running release on another port: 409" 409 POST /v1/service/start \
  --data-binary "{\"release\":\"${SHA[1.0.1]}\",\"port\":$(free_port)}"
call "... the first one still runs, same pid" 200 GET /v1/status
check "... same pid" is "$(json_field 'd["service"]["pid"]')" "$SERVICE_PID"
call "stop the service" 200 POST /v1/service/stop
check "... stopped" is "$(json_field 'd["state"]')" stopped
check "... nothing listens on its port" bash -c "! curl -s http://$AHOST:$SPORT/healthz"
call "health after stop: 503" 503 GET /v1/health

call "a service that exits at once: start fails" 500 POST /v1/service/start --data-binary "{\"release\":\"${SHA[1.0.4]}\",\"port\":$SPORT}"
check "... with its exit code and its stderr" bash -c "grep -q '3' '$WORK/resp' && grep -q 'no database' '$WORK/resp'"
call "a service that never becomes healthy: starts" 200 POST /v1/service/start --data-binary "{\"release\":\"${SHA[1.0.5]}\",\"port\":$SPORT}"
# Once it listens, its health check answers HTTP 500 (before that: connection refused).
for _ in $(seq 50); do
  api GET /v1/health >"$WORK/resp" 2>/dev/null || true
  grep -q 'HTTP 500' "$WORK/resp" && break
  sleep 0.1
done
check "... and its health check fails: 503" status_is_resp 503
check "... saying why" bash -c "grep -q 'HTTP 500' '$WORK/resp'"
call "stop it" 200 POST /v1/service/stop

# examples/demo-service/demo_service.py, told its address through {host} and {port} in argv.
call "a release with {host} and {port} in its argv: starts" 200 POST /v1/service/start \
  --data-binary "{\"release\":\"${SHA[1.0.6]}\",\"port\":$SPORT}"
SERVICE_PID=$(json_field 'd["pid"]' || true)
check "... argv got the agent's address" \
  bash -c "tr '\\0' ' ' </proc/$SERVICE_PID/cmdline | grep -qF -- '--host $AHOST --port $SPORT --version 1.0.6'"
healthy=no
for _ in $(seq 50); do
  if api GET /v1/health >"$WORK/out" 2>/dev/null && status_is 200; then healthy=yes; break; fi
  sleep 0.1
done
check "... healthy on $AHOST" is "$healthy" yes
check "... serves its version there" is "$(curl -s "http://$AHOST:$SPORT/")" "demo-service 1.0.6"
call "... the same start again: 200, same pid" 200 POST /v1/service/start \
  --data-binary "{\"release\":\"${SHA[1.0.6]}\",\"port\":$SPORT}"
check "... same pid" is "$(json_field 'd["pid"]')" "$SERVICE_PID"
kill -KILL "$SERVICE_PID" 2>/dev/null || true
for _ in $(seq 50); do
  api GET /v1/status >"$WORK/resp" 2>/dev/null || true
  [ "$(json_field 'd["service"]["state"]' 2>/dev/null)" = exited ] && break
  sleep 0.1
done
call "the same start after the service died: starts it again" 200 POST /v1/service/start \
  --data-binary "{\"release\":\"${SHA[1.0.6]}\",\"port\":$SPORT}"
check "... a new pid" test "$(json_field 'd["pid"]')" != "$SERVICE_PID"
check "... not reported as already running" is "$(json_field 'd["already_running"]')" False
call "stop it" 200 POST /v1/service/stop
call "starting a release that is not staged: 404" 404 POST /v1/service/start --data-binary "{\"release\":\"${SHA[1.0.2]}\"}"

# --- restart: same identity, same releases, no new enrollment ----------------------------
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"; code=$?
check "SIGTERM stops the agent cleanly" test "$code" = 0
check "agent restarts" start_agent state.json
call "status after restart" 200 GET /v1/status
check "... same certificate (no new enrollment)" is "$(json_field 'd["agent"]["certificate_sha256"]')" "$FINGERPRINT"
check "... releases still staged" is "$(json_field 'len(d["releases"])')" 4
check "... the controller granted one enrollment" test "$(grep -c 'POST /v1/enroll 200' ctl/controller-requests.log)" = 1

# --- decommission ----------------------------------------------------------------------
call "start the service again" 200 POST /v1/service/start --data-binary "{\"release\":\"${SHA[1.0.1]}\",\"port\":$SPORT}"
SERVICE_PID=$(json_field 'd["pid"]' || true)
call "decommission" 200 POST /v1/decommission
wait "$AGENT_PID"; code=$?
check "the agent exits 0" test "$code" = 0
check "the service is gone" bash -c "! kill -0 $SERVICE_PID 2>/dev/null"
check "releases are wiped" test ! -e state/releases
check "keys are wiped" test ! -e state/tls
check "logs are wiped" test ! -e state/logs

finish
