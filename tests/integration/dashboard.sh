# The operator dashboard, /metrics and the live terminal status with the real parts: the
# controller, agents on their own loopback addresses, HAProxy and the demo service
# (regions east, north, south: loopback addresses no other test uses).
#  - access: no credentials are refused everywhere (the page sends you to sign in);
#    `patchwave login` gives a viewer a session token, the link sets an HttpOnly cookie;
#    tampered and expired tokens are refused; a session never reaches the API; a viewer
#    can look but not act (403, audited) through the dashboard or the API;
#  - every JSON view during a rollout: regions with state, step, traffic split, health,
#    time in state and time to patch; the approval south waits for with what it would
#    change and the command to approve it; servers, releases, the audit log and its chain;
#  - /metrics (a viewer's certificate) during the rollouts: the series and their values;
#  - Debian's chromium (playwright-core) opens the dashboard during a rollout, checks
#    the regions as a user sees them, follows the approval live and takes screenshots
#    (kept in the build directory; PW_UPDATE_DOCS_SCREENSHOT=1 copies one to
#    docs/images/dashboard.png). If chromium or playwright-core cannot run, this FAILS;
#  - `rollout status --watch` on a terminal (script(1) gives it one) draws the live view.
#   dashboard.sh PATCHWAVE PATCHWAVE_AGENT BUILD_DIR
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
BUILD_DIR=$(cd "${3:?dashboard.sh PATCHWAVE PATCHWAVE_AGENT BUILD_DIR}" && pwd)
source "$here/lib.sh"
source "$here/agent/pki.sh"
source "$here/rollout_lib.sh"

mkdir -p keys
pw key generate --out keys/sam >/dev/null 2>&1
APPROVERS[south]="{threshold: 1, keys: [$(cat keys/sam.pub)]}"
setup_rollouts east:1 north:2 south:2
release 1.0.0
check "the controller starts and syncs" start_controller
operators
C=$PATCHWAVE_CONTROLLER
ucurl() { curl -sS --max-time 20 --cacert "$WORK/state/ca/ca.pem" "$@"; }
code() { ucurl -o /dev/null -w '%{http_code}' "$@"; }
as_vera=(--cert "$WORK/vera.crt" --key "$WORK/vera.key")
as_rita=(--cert "$WORK/rita.crt" --key "$WORK/rita.key")
# json FILE PYTHON: asserts about the JSON in FILE (as `d`).
json() { python3 -c "import json,sys; d = json.load(open('$1')); $2"; }

# --- who may look ----------------------------------------------------------------------
check "no credentials: a view is 401" test "$(code "$C/ui/api/summary")" = 401
check "... /metrics is 401" test "$(code "$C/metrics")" = 401
check "... the API is 401" test "$(code "$C/v1/rollouts")" = 401
check "... a POST to the dashboard is 401" test "$(code -X POST "$C/ui/api/rollouts")" = 401
ucurl -D page.h -o /dev/null "$C/ui/"
check "... the page sends you to sign in (303 /ui/login)" bash -c \
  "grep -q '^HTTP/1.1 303' page.h && grep -qi '^location: /ui/login' page.h"
ucurl "$C/ui/login" >login.html
check "... the sign-in page is there, and says how to sign in" grep -q "<code>patchwave login</code>" login.html
check "patchwave login --help" pw login --help
expect_out "... says what it is for" "read-only dashboard"
TESTS=$((TESTS + 1)); rc=0; pw login --ttl 3d >/dev/null 2>err.txt || rc=$?
if [ "$rc" = 2 ] && grep -q -- "--ttl '3d'" err.txt; then echo "ok   a session longer than 24h is a usage error (exit 2)";
else echo "FAIL --ttl 3d: exit $rc"; FAILURES=$((FAILURES + 1)); fi
check "patchwave login as vera (viewer), JSON" pw login "${as_vera[@]}" --output json
cp "$WORK/out" login.json
TOKEN=$(json login.json 'print(d["token"])')
check "... the token is for vera, a viewer, and the link is this controller's" json login.json "
assert d['operator'] == 'vera' and d['role'] == 'viewer', d
assert d['url'] == '$C/ui/login?token=' + d['token'], d"
check "patchwave login as text prints the link" pw login "${as_vera[@]}"
expect_out "... to open" "$C/ui/login?token=pws1."
ucurl -D login.h -o /dev/null "$C/ui/login?token=$TOKEN"
check "the link sets an HttpOnly, Secure, SameSite=Strict cookie and goes to /ui/" bash -c "
grep -q '^HTTP/1.1 303' login.h && grep -qi '^location: /ui/' login.h &&
grep -i '^set-cookie: pw_session=pws1' login.h | grep -q 'HttpOnly; SameSite=Strict' &&
grep -i '^set-cookie:' login.h | grep -q 'Path=/ui;' && grep -i '^set-cookie:' login.h | grep -q Secure"
check "the page carries a strict content security policy" bash -c \
  "curl -sS -D - -o /dev/null --cacert state/ca/ca.pem -H 'Cookie: pw_session=$TOKEN' '$C/ui/' | grep -qi \"^content-security-policy: default-src 'none'; script-src 'self'\""
as_session=(-H "Cookie: pw_session=$TOKEN")
ucurl "${as_session[@]}" "$C/ui/api/summary" >summary.json
check "with the cookie: the summary names vera, a viewer" json summary.json "
assert d['operator'] == {'name': 'vera', 'role': 'viewer', 'via': 'session', 'session_expires_at': d['operator']['session_expires_at']}, d
assert d['chain']['intact'] is True and d['counts']['releases'] == 1, d"
check "... and as a bearer token" test "$(code -H "Authorization: Bearer $TOKEN" "$C/ui/api/summary")" = 200
check "... and with the operator's certificate instead" test "$(code "${as_vera[@]}" "$C/ui/api/summary")" = 200
TAMPERED=$(python3 -c "
t = '$TOKEN'; p = t.split('.')
print(p[0] + '.' + p[1].replace('766965776572', '726f6f742121') + '.' + p[2])")
check "a token whose role was changed is refused" test "$(code -H "Cookie: pw_session=$TAMPERED" "$C/ui/api/summary")" = 401
check "... and sends the page back to sign in" bash -c \
  "curl -sS -D - -o /dev/null --cacert state/ca/ca.pem -H 'Cookie: pw_session=$TAMPERED' '$C/ui/' | grep -qi '^location: /ui/login?expired=1'"
check "a one-second session" pw login "${as_vera[@]}" --ttl 1s --output json
SHORT=$(json "$WORK/out" 'print(d["token"])')
sleep 2
check "... has expired two seconds later" test "$(code -H "Cookie: pw_session=$SHORT" "$C/ui/api/summary")" = 401
check "a session never reaches the API (certificates only)" test "$(code "${as_session[@]}" "$C/v1/rollouts")" = 401
check "a session cannot mint sessions" test "$(code -X POST "${as_session[@]}" "$C/v1/session")" = 401
check "a viewer cannot act through the dashboard (403)" test \
  "$(code -X POST "${as_session[@]}" -d '{}' "$C/ui/api/rollouts")" = 403
check "... not with a certificate either" test \
  "$(code -X POST "${as_vera[@]}" -d '{}' "$C/ui/api/rollouts/r1/abort")" = 403
check "... nor a release engineer: the dashboard is read-only" test \
  "$(code -X DELETE "${as_rita[@]}" "$C/ui/api/servers")" = 403
refuse "a viewer cannot start a rollout through the API" "HTTP 403" pw rollout start demo-service@1.0.0 "${as_vera[@]}"
pw audit export --db state/store.db --output jsonl >audit1.jsonl
check "the refusals and the sessions are audited" python3 -c "
import json
e = [json.loads(l) for l in open('audit1.jsonl')]
ui = [x for x in e if x['action'] == 'ui.refused']
assert len(ui) == 3 and ui[0]['actor'] == 'operator:vera' and ui[0]['inputs']['via'] == 'session', ui
assert ui[2]['actor'] == 'operator:rita' and ui[2]['inputs']['method'] == 'DELETE', ui
assert any(x['action'] == 'api.refused' and 'vera' in x['actor'] for x in e), 'no api.refused'
s = [x for x in e if x['action'] == 'session.issued']
assert len(s) == 3 and s[0]['inputs']['role'] == 'viewer', s
assert not any('$TOKEN' in json.dumps(x) for x in e), 'a token in the audit log'"
check "/metrics with a viewer's certificate" bash -c \
  "curl -sS -D metrics0.h -o metrics0.txt --cacert state/ca/ca.pem --cert vera.crt --key vera.key '$C/metrics' && grep -qi '^content-type: text/plain; version=0.0.4' metrics0.h"

# --- the first rollout: south waits for its approver --------------------------------------
check "rollout start 1.0.0" pw rollout start demo-service@1.0.0
RID=$(latest_rollout)
view() { ucurl "${as_session[@]}" "$C/ui/api/$1" >"$2"; }
waiting_south() {
  view "rollouts/$RID" r1.json && json r1.json "
g = {r['region']: r['state'] for r in d['regions']}
assert g == {'east': 'succeeded', 'north': 'succeeded', 'south': 'awaiting_approval'}, g" 2>/dev/null
}
wait_for() { for _ in $(seq "${2:-1200}"); do "$1" && return 0; sleep 0.1; done; return 1; }
check "east and north succeed; south waits for its approver" wait_for waiting_south
check "the rollout view: every region's state, step, split, health, times, wait" json r1.json "
g = {r['region']: r for r in d['regions']}
assert d['id'] == '$RID' and d['state'] == 'running' and d['time_to_patch_ms'] is None, d
for r in ('east', 'north'):
    x = g[r]
    assert x['progress'] == 100 and x['traffic'] == {'new': 100, 'old': 0}, x
    assert x['health']['servers'] == 2 and x['steps'] == [100] and x['waits_for'] == '', x
    assert 0 < x['time_to_patch_ms'] < 120000 and x['time_in_state_ms'] >= 0, x
    assert len(x['fresh']) == 2 and x['terminal'] and not x['failed'], x
s = g['south']
assert s['progress'] == 5 and s['traffic'] == {'new': 0, 'old': 0} and s['time_to_patch_ms'] is None, s
assert s['waits_for'].startswith('1 more signed approval (0 of 1), request expires in '), s
assert s['state_label'] == 'awaiting approval' and s['gate']['needed'] == 1, s"
view rollouts rollouts.json
check "the rollouts view: the list, and the one in progress in detail" json rollouts.json "
assert [r['id'] for r in d['rollouts']] == ['$RID'] and d['rollouts'][0]['active'], d
assert [c['id'] for c in d['current']] == ['$RID'] and len(d['current'][0]['regions']) == 3, d"
check "an unknown rollout is 404" test "$(code "${as_session[@]}" "$C/ui/api/rollouts/r00000000")" = 404
check "... and a path trick too" test "$(code "${as_session[@]}" "$C/ui/api/rollouts/..%2F..%2Fv1%2Fsync")" = 404
view approvals approvals.json
check "the approvals view: what approving south changes, and the command" json approvals.json "
a, = d['pending']
assert a['region'] == 'south' and a['rollout'] == '$RID' and a['needed'] == 1, a
assert a['approve_command'] == \"patchwave approve $RID --region south --key YOUR_APPROVER_KEY --comment 'checked'\", a
assert 'create 2 fresh servers in south' in a['changes'] and 'retire nothing (first deployment)' in a['changes'], a
assert a['changes'][0] == 'release: demo-service 1.0.0 (routine)', a
assert 0 < a['expires_in_ms'] <= 86400000 and len(a['approvers_short']) == 8, a"
view servers servers.json
check "the servers view: two serving in east and north, none in south yet" json servers.json "
g = {r['region']: r for r in d['regions']}
assert g['east']['counts'] == {'serving': 2} and g['north']['counts'] == {'serving': 2}, g
assert g['south']['servers'] == [] and g['south']['wanted'] == 2 and d['servers'] == 4, g
assert all(s['address'].startswith('127.113.') for s in g['east']['servers']), g['east']"
view releases releases.json
check "the releases view: 1.0.0, its urgency, CVEs and rollout" json releases.json "
r, = d['releases']
assert (r['app'], r['version'], r['urgency'], r['cves']) == ('demo-service', '1.0.0', 'routine', []), r
assert r['rollouts'] == [{'id': '$RID', 'state': 'running'}] and len(r['sha256']) == 64, r"
view "audit?limit=20" audit.json
check "the audit view: newest first, the chain intact" json audit.json "
e = d['events']
assert d['chain']['intact'] is True and d['chain']['events'] >= len(e), d['chain']
assert len(e) == 20 and [x['seq'] for x in e] == list(range(e[0]['seq'], e[0]['seq'] - 20, -1)), e
assert any(x['action'] == 'approval.requested' and x['inputs']['region'] == 'south' for x in e), e
assert e[0]['seq'] >= d['chain']['events'], (e[0], d['chain'])"
view summary summary.json
check "the summary counts the rollout in progress and the approval waiting" json summary.json "
assert d['counts']['rollouts_active'] == 1 and d['counts']['approvals_waiting'] == 1, d
assert d['counts']['servers_serving'] == 4 and d['sync']['revision'], d"

# metrics_check FILE PYTHON: a valid exposition, and assertions on it (tests/support).
scrape() { ucurl "${as_vera[@]}" "$C/metrics" >"$1"; }
metrics_check() { python3 "$here/../support/metrics_check.py" "$1" "$2"; }
scrape metrics1.txt
check "/metrics during the rollout: a valid exposition, and its values" metrics_check metrics1.txt "
assert v('patchwave_rollouts', state='running') == 1 and v('patchwave_rollouts', state='succeeded') == 0
assert v('patchwave_region_state', rollout='$RID', region='south', state='awaiting_approval') == 1
assert v('patchwave_region_state', rollout='$RID', region='east', state='succeeded') == 1
assert v('patchwave_approvals_waiting', rollout='$RID', region='south') == 1
assert v('patchwave_approval_requests_open', waiting_for='approvals') == 1
assert v('patchwave_region_traffic_percent', rollout='$RID', region='east', servers='new') == 100
assert 0 < v('patchwave_region_time_to_patch_seconds', rollout='$RID', region='east') < 120
assert v('patchwave_servers', region='east', state='serving') == 2
assert v('patchwave_servers', region='south', state='serving') == 0
assert v('patchwave_time_to_patch_seconds_count', urgency='routine') == 2
assert v('patchwave_region_phase_duration_seconds_count', phase='provisioning') == 2
assert v('patchwave_region_phase_duration_seconds_count', phase='verifying') == 2
assert v('patchwave_health_gate_results_total', result='passed') == 2
assert v('patchwave_regions_finished_total', state='succeeded') == 2
assert v('patchwave_syncs_total', result='ok') >= 1 and v('patchwave_syncs_total', result='refused') == 0
assert v('patchwave_refused_requests_total', surface='ui') == 3
assert v('patchwave_refused_requests_total', surface='api') >= 1
assert v('patchwave_audit_events') > 20
assert types['patchwave_region_phase_duration_seconds'] == 'histogram'
assert types['patchwave_rollbacks_total'] == 'counter' and types['patchwave_servers'] == 'gauge'"
check "sam approves south" pw approve "$RID" --region south --key keys/sam --comment "checked"
check "... and the rollout succeeds (status --watch without a terminal: plain lines)" \
  timeout 180 "$PW_BIN" rollout status "$RID" --watch
expect_out "... which show each region's traffic split and health" "traffic: 0% old, 100% new; health: 2 of 2 new servers passing"

# --- the next release under load, watched in chromium and in a terminal ------------------
check "node and chromium are here" bash -c "node --version && /usr/bin/chromium --version"
NODE_CACHE="$BUILD_DIR/browser-test"
install_playwright() {
  mkdir -p "$NODE_CACHE"
  cp "$here/browser/package.json" "$here/browser/package-lock.json" "$NODE_CACHE/"
  [ -f "$NODE_CACHE/node_modules/playwright-core/package.json" ] &&
    grep -q '"version": "1.65.1"' "$NODE_CACHE/node_modules/playwright-core/package.json" && return 0
  (cd "$NODE_CACHE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts)
}
check "playwright-core (npm, cached in the build directory)" install_playwright
SPKI=$(openssl x509 -in state/tls/controller.crt -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)
release 1.0.1
check "sync 1.0.1" pw sync
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:${FRONT[east]}/" \
  --url "http://127.0.0.1:${FRONT[north]}/" --url "http://127.0.0.1:${FRONT[south]}/" \
  --concurrency 3 --out load.json &
LOAD=$!; PIDS+=($LOAD)
sleep 1
check "rollout start 1.0.1 under load" pw rollout start demo-service@1.0.1
RID2=$(latest_rollout)
mkdir -p browser
PW_MODULES="$NODE_CACHE/node_modules" PW_URL="$C" PW_TOKEN="$TOKEN" PW_ROLLOUT="$RID2" PW_SPKI="$SPKI" \
  PW_OUT="$WORK/browser" node "$here/browser/dashboard.cjs" >browser.log 2>&1 &
BROWSER=$!; PIDS+=($BROWSER)
TERM=xterm-256color LANG=C.UTF-8 timeout 300 script -qfec "'$PW_BIN' rollout status $RID2 --watch" \
  /dev/null >tty.txt 2>&1 </dev/null &
TTY=$!; PIDS+=($TTY)
ready() { [ -f browser/ready ] || ! kill -0 "$BROWSER" 2>/dev/null; }
wait_for ready 2400 || true
check "the browser saw east and north succeed while south waits" test -f browser/ready
check "sam approves south" pw approve "$RID2" --region south --key keys/sam
TESTS=$((TESTS + 1)); rc=0; wait "$BROWSER" || rc=$?
if [ "$rc" = 0 ]; then echo "ok   chromium followed the rollout live on the dashboard"; sed 's/^/     /' browser.log
else echo "FAIL the browser test (exit $rc):"; sed 's/^/     | /' browser.log; FAILURES=$((FAILURES + 1)); fi
check "... and took screenshots" bash -c "for f in waiting approvals dashboard succeeded; do
  head -c 8 browser/\$f.png | od -An -c | grep -q 'P   N   G' || exit 1; done"
if [ -f browser/dashboard.png ]; then
  cp browser/*.png "$BUILD_DIR/browser-test/"
  if [ -n "${PW_UPDATE_DOCS_SCREENSHOT:-}" ]; then
    mkdir -p "$here/../../docs/images" && cp browser/dashboard.png "$here/../../docs/images/dashboard.png"
  fi
fi
check "rollout 1.0.1 succeeds" timeout 180 "$PW_BIN" rollout status "$RID2" --watch
TESTS=$((TESTS + 1)); rc=0; wait "$TTY" || rc=$?
if [ "$rc" = 0 ] && grep -q $'\x1b\[[0-9]*A' tty.txt && grep -q 'OLD / NEW' tty.txt &&
   grep -q 'waits for: ' tty.txt && grep -q '█' tty.txt && grep -q 'finished: succeeded' tty.txt; then
  echo "ok   status --watch on a terminal: a live view redrawn in place, exit 0"
else echo "FAIL status --watch on a terminal (exit $rc)"; tail -c 2000 tty.txt | cat -v | tail -20; FAILURES=$((FAILURES + 1)); fi
kill -TERM $LOAD; wait $LOAD || true
check "no request was lost during the cutover" json load.json "
assert d['requests'] > 100 and d['ok'] == d['requests'] and not d['by_status'], d"
view "rollouts/$RID2" r2.json
check "every region's time to patch, and the rollout's" json r2.json "
assert d['state'] == 'succeeded' and d['progress'] == 100, d['state']
t = [r['time_to_patch_ms'] for r in d['regions']]
assert all(x and x > 0 for x in t) and d['time_to_patch_ms'] == max(t), t"

# --- a refused sync and a broken release: the failure metrics -----------------------------
cp repo/metadata/timestamp.json timestamp.good
edit_json repo/metadata/timestamp.json 'doc["signed"]["version"] += 1'
commit_all repo "a timestamp nobody signed"
refuse "a tampered repository is refused by sync" "signature" pw sync
cp timestamp.good repo/metadata/timestamp.json
commit_all repo "the signed timestamp back"
release 1.0.2 error-5xx
check "sync the broken release" pw sync
python3 "$here/../support/loadgen.py" --url "http://127.0.0.1:${FRONT[east]}/" --concurrency 2 \
  --out load2.json &
LOAD=$!; PIDS+=($LOAD)
check "rollout start 1.0.2 to east" pw rollout start demo-service@1.0.2 --regions east
RID3=$(latest_rollout)
TESTS=$((TESTS + 1)); rc=0; timeout 180 "$PW_BIN" rollout status "$RID3" --watch >watch3.txt 2>&1 || rc=$?
if [ "$rc" = 1 ]; then echo "ok   ... it is rolled back (status --watch exits 1)"; else
  echo "FAIL ... exit $rc"; tail -5 watch3.txt; FAILURES=$((FAILURES + 1)); fi
kill -TERM $LOAD; wait $LOAD || true
view "rollouts/$RID3" r3.json
check "the dashboard shows why east rolled back, traffic back on the old servers" json r3.json "
e, = d['regions']
assert d['state'] == 'rolled_back' and e['state'] == 'rolled_back' and e['failed'], e
assert e['reason'].startswith('analysis at 10%'), e['reason']
assert e['traffic'] == {'new': 0, 'old': 100} and e['time_to_patch_ms'] is None, e"
scrape metrics2.txt
check "/metrics after: rollbacks with their reason, failed analysis, the refused sync" metrics_check metrics2.txt "
assert v('patchwave_rollouts', state='succeeded') == 2 and v('patchwave_rollouts', state='rolled_back') == 1
assert v('patchwave_rollbacks_total', reason='analysis') == 1 and v('patchwave_rollbacks_total', reason='health') == 0
assert v('patchwave_canary_analyses_total', result='failed') == 1
assert v('patchwave_canary_analyses_total', result='passed') >= 6
assert v('patchwave_rollback_restore_seconds_count') == 1 and v('patchwave_rollback_restore_seconds_sum') < 5
assert v('patchwave_regions_finished_total', state='rolled_back') == 1
assert v('patchwave_regions_finished_total', state='succeeded') == 6
assert v('patchwave_syncs_total', result='refused') == 1
assert v('patchwave_last_sync_success_timestamp_seconds') > 1.7e9
assert v('patchwave_time_to_patch_seconds_count', urgency='routine') == 6
assert v('patchwave_approvals_total', result='approved') == 2
assert v('patchwave_region_state', rollout='$RID3', region='east', state='rolled_back') == 1
assert v('patchwave_approval_requests_open', waiting_for='approvals') == 0"
check "the audit chain is intact" pw audit verify
finish
