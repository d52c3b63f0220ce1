# The audit log, black box: notes, the hash chain, signed checkpoints anchored in a git
# repository, and tampering of every kind with the real SQLite file (sqlite3 CLI):
# an edit through SQL is refused; an edit with the triggers dropped breaks the chain;
# a consistent rewrite of the whole chain, and a truncation, are caught by the anchors.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 1; }

refuse "verify never creates a store" "no such store" pw audit verify --db missing.db
check "no store was created" test ! -e missing.db
for i in 1 2 3 4; do check "note $i" pw audit note --db s.db --actor alice --message "note $i"; done
pw key generate --out ctl >/dev/null 2>&1
pw key generate --out other >/dev/null 2>&1
check "checkpoint" pw audit checkpoint --db s.db --key ctl --anchor anchor --output json
expect_out "checkpoint covers event 4" '"seq": 4'
check "checkpoint again is a no-op" pw audit checkpoint --db s.db --key ctl --anchor anchor
expect_out "... saying so" "already anchored"
check "anchor repository has one commit" test "$(git -C anchor rev-list --count HEAD)" = 1
pw audit note --db s.db --actor bob --message "after the checkpoint" >/dev/null
check "verify: chain and anchors" pw audit verify --db s.db --anchor anchor --anchor-key ctl.pub --output json
expect_out "five events" '"events": 5'
expect_out "anchors match" '"intact": true'
check "export json" pw audit export --db s.db
cp "$WORK/out" export.json
check "export is an array of 5" python3 -c "import json; assert len(json.load(open('export.json'))) == 5"
check "export jsonl" pw audit export --db s.db --output jsonl
cp "$WORK/out" export.jsonl
check "one event per line, chained" python3 -c "
import json
lines = [json.loads(l) for l in open('export.jsonl')]
assert [e['seq'] for e in lines] == [1, 2, 3, 4, 5]
assert all(b['prev_hash'] == a['hash'] for a, b in zip(lines, lines[1:]))"
refuse "anchors checked with another key are refused" "not signed by the controller key" \
  pw audit verify --db s.db --anchor anchor --anchor-key other.pub

cp s.db pristine.db
refuse "an UPDATE through SQL is refused by the store" "append-only" \
  bash -c "sqlite3 s.db \"UPDATE events SET outcome = 'forged' WHERE seq = 2\" || exit 1"
sqlite3 s.db "DROP TRIGGER events_no_update; UPDATE events SET outcome = 'forged' WHERE seq = 2"
refuse "an edited event breaks the chain, named" "BROKEN at event 2" \
  bash -c "'$PW_BIN' audit verify --db s.db 1>&2"

# rewrite_chain DB [DELETE_FROM_SEQ]: an attacker with the file recomputes every hash so
# the chain is consistent again (optionally after deleting the tail).
rewrite_chain() {
  python3 - "$@" <<'PY'
import hashlib, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;")
if len(sys.argv) > 2:
    db.execute("DELETE FROM events WHERE seq >= ?", (int(sys.argv[2]),))
else:
    db.execute("UPDATE events SET inputs = ? WHERE seq = 2", (json.dumps({"message": "nothing happened"}),))
prev = "0" * 64
for seq, time, actor, action, inputs, outcome in db.execute(
        "SELECT seq, time, actor, action, inputs, outcome FROM events ORDER BY seq").fetchall():
    doc = {"seq": seq, "time": time, "actor": actor, "action": action,
           "inputs": json.loads(inputs), "outcome": outcome, "prev": prev}
    h = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    db.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, seq))
    prev = h
db.commit()
PY
}
cp pristine.db rewritten.db && rewrite_chain rewritten.db
check "a consistent rewrite passes the chain check alone" pw audit verify --db rewritten.db
refuse "... but not the anchors" "differs from the anchored checkpoint (history rewritten)" \
  pw audit verify --db rewritten.db --anchor anchor --anchor-key ctl.pub
cp pristine.db truncated.db && rewrite_chain truncated.db 3
refuse "a truncated history is caught by the anchors" "history truncated" \
  pw audit verify --db truncated.db --anchor anchor --anchor-key ctl.pub
check "the pristine copy still verifies" pw audit verify --db pristine.db --anchor anchor --anchor-key ctl.pub

for cmd in "audit" "audit verify" "audit export" "audit checkpoint" "audit note"; do
  # shellcheck disable=SC2086
  check "help: $cmd" pw $cmd --help
done
finish
