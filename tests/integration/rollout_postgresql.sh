# The controller on a PostgreSQL store (controller.yaml: store: {backend: postgresql}),
# with a throwaway server (tests/support/pg_server.sh), real agents, HAProxy and the demo
# service on loopback:
#  - a rollout into one region succeeds and the region serves the release;
#  - nothing went to SQLite: there is no store file in the state directory, and the
#    rollout, its servers and the audit chain are rows in PostgreSQL;
#  - the controller restarts on the same database and carries on where it was;
#  - `patchwave audit verify` (and `audit export`) read the chain from PostgreSQL through
#    the controller's configuration, and find it intact.
#   rollout_postgresql.sh PATCHWAVE PATCHWAVE_AGENT
here=$(cd "$(dirname "$0")" && pwd)
AGENT_BIN=$2
source "$here/lib.sh"
source "$here/agent/pki.sh"
source "$here/rollout_lib.sh"

PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pw-pg-XXXXXX")
trap 'rollout_cleanup; cd /; bash "$here/../support/pg_server.sh" stop "$PG_DIR"' EXIT
if ! PG_URL=$(bash "$here/../support/pg_server.sh" start "$PG_DIR"); then
  echo "FAIL the throwaway PostgreSQL server did not start"
  exit 1
fi
PSQL="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql"
sql() { "$PSQL" "$PG_URL" -XAtqc "$1"; }

CONTROLLER_EXTRA="store: {backend: postgresql, url: '$PG_URL'}"
setup_rollouts pg:1
release 1.0.0
PORT=${FRONT[pg]}
check "the controller starts on PostgreSQL and syncs" start_controller
operators
check "rollout start 1.0.0" pw rollout start demo-service@1.0.0
RID=$(latest_rollout)
check "the rollout succeeds (status --watch exits 0)" timeout 180 "$PW_BIN" rollout status "$RID" --watch
check "the region's frontend serves 1.0.0" serves "$PORT" 1.0.0

check "no SQLite store was made in the state directory" test ! -e state/store.db
check "the rollout is a row in PostgreSQL, succeeded" test "$(sql "SELECT state FROM rollouts WHERE id = '$RID'")" = succeeded
check "... its two servers serve" test "$(sql "SELECT COUNT(*) FROM servers WHERE state = 'serving'")" = 2
check "... the schema is at the latest migration" test "$(sql 'SELECT MAX(version) FROM schema_migrations')" = 7
check "... audit events cannot be rewritten in PostgreSQL either" bash -c \
  "! '$PSQL' '$PG_URL' -XAtqc \"UPDATE events SET outcome = 'forged' WHERE seq = 1\" 2>err.txt && grep -q 'append-only' err.txt"

# --- restart on the same database --------------------------------------------------------
kill -TERM "$CTL_PID"; wait "$CTL_PID" || true; CTL_PID=
events_before=$(sql 'SELECT COUNT(*) FROM events')
check "the controller starts again on the same database" start_controller
check "... and still knows the rollout" bash -c \
  "'$PW_BIN' rollout list --output json | grep -qF '\"$RID\"'"
check "... and went on writing the same chain" test "$(sql 'SELECT COUNT(*) FROM events')" -gt "$events_before"
check "the region still serves 1.0.0" serves "$PORT" 1.0.0

# --- the audit chain, read from PostgreSQL by the CLI --------------------------------------
check "audit verify --config controller.yaml: intact" pw audit verify --config controller.yaml --output json
cp "$WORK/out" verify.json
check "... over every event" python3 -c "
import json; r = json.load(open('verify.json'))
assert r['chain_intact'] is True and r['events'] >= $events_before, r"
check "audit verify --db postgresql://...: intact" pw audit verify --db "$PG_URL"
check "audit export --config: the region's transitions are there" bash -c \
  "'$PW_BIN' audit export --config controller.yaml --output jsonl | grep -c '\"action\":\"rollout.region\"' | awk '\$1 > 3 {ok=1} END {exit !ok}'"
check "the controller's API agrees (audit verify without --db)" pw audit verify
refuse "a URL with a password is refused, and the password is not echoed" "must not carry a password" \
  pw audit verify --db "postgresql://patchwave:hunter2@127.0.0.1:1/patchwave"
check "... not echoed" bash -c "! grep -q hunter2 '$WORK/err'"
refuse "a database without a store is not_found, not created" "no store in this database" \
  pw audit verify --db "${PG_URL%/*}/postgres"
finish
