#include "orchestrator/store/migrations.hpp"

#include "common/log/log.hpp"

namespace pw::store {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "initial schema", R"SQL(
CREATE TABLE rollouts (
  {{ROWID}} id TEXT PRIMARY KEY, app TEXT NOT NULL, version TEXT NOT NULL, target TEXT NOT NULL,
  sha256 TEXT NOT NULL, urgency TEXT NOT NULL, state TEXT NOT NULL, plan TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE rollout_regions (
  {{ROWID}} rollout_id TEXT NOT NULL REFERENCES rollouts(id), region TEXT NOT NULL,
  wave INTEGER NOT NULL, state TEXT NOT NULL, paused INTEGER NOT NULL DEFAULT 0,
  step INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL, PRIMARY KEY (rollout_id, region));
CREATE TABLE servers (
  name TEXT PRIMARY KEY, region TEXT NOT NULL, rollout_id TEXT, address TEXT NOT NULL,
  provider TEXT NOT NULL, provider_id TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,
  certificate_sha256 TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE TABLE approvals (
  id {{SERIAL}}, rollout_id TEXT NOT NULL, region TEXT NOT NULL,
  keyid TEXT NOT NULL, document TEXT NOT NULL, created_at TEXT NOT NULL,
  UNIQUE (rollout_id, region, keyid));
CREATE TABLE trusted_metadata (role TEXT PRIMARY KEY, bytes BLOB NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE sync_state (
  id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL, revision TEXT NOT NULL,
  targets TEXT NOT NULL, synced_at TEXT NOT NULL);
CREATE TABLE enrollment_tokens (
  token_sha256 TEXT PRIMARY KEY, server TEXT NOT NULL, expires_at TEXT NOT NULL,
  used_at TEXT);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  inputs TEXT NOT NULL, outcome TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
-- Append-only from SQL's side too; the hash chain and the anchored checkpoints catch
-- anyone who bypasses this by editing the file.
{{APPEND_ONLY}}
)SQL"},
      {2, "audit checkpoints; server health", R"SQL(
CREATE TABLE audit_checkpoints (
  seq INTEGER PRIMARY KEY, head_hash TEXT NOT NULL, document TEXT NOT NULL,
  anchor TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL);
ALTER TABLE servers ADD COLUMN last_health TEXT NOT NULL DEFAULT '';
CREATE INDEX servers_by_region ON servers(region, state);
CREATE INDEX events_by_action ON events(action);
)SQL"},
      {3, "metadata bundle of the last sync", R"SQL(
ALTER TABLE sync_state ADD COLUMN bundle TEXT NOT NULL DEFAULT '{}';
)SQL"},
      {4, "verified fleet policy of the last sync", R"SQL(
ALTER TABLE sync_state ADD COLUMN fleet TEXT NOT NULL DEFAULT 'null';
)SQL"},
      {5, "rollout engine records and operators' commands", R"SQL(
ALTER TABLE rollout_regions ADD COLUMN data TEXT NOT NULL DEFAULT '{}';
ALTER TABLE servers ADD COLUMN service TEXT NOT NULL DEFAULT '';
CREATE TABLE rollout_commands (
  id {{SERIAL}}, rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  region TEXT NOT NULL, verb TEXT NOT NULL, actor TEXT NOT NULL, created_at TEXT NOT NULL,
  done_at TEXT, outcome TEXT NOT NULL DEFAULT '');
CREATE INDEX rollouts_by_state ON rollouts(state);
)SQL"},
      {6, "webhook notification outbox", R"SQL(
-- orchestrator/notify: what happened (payload: the JSON body webhooks receive) and, per
-- configured webhook, its delivery. A webhook is named by the sha256 of its URL (the URL
-- carries a secret and is never stored) and shown as `endpoint`: scheme, host and port.
-- Deliveries are made by the dispatcher (fanned_out) for the webhooks configured then;
-- next_at is Unix time in milliseconds.
CREATE TABLE notifications (
  id {{SERIAL}}, event TEXT NOT NULL, payload TEXT NOT NULL,
  created_at TEXT NOT NULL, fanned_out INTEGER NOT NULL DEFAULT 0);
CREATE TABLE notification_deliveries (
  notification_id INTEGER NOT NULL REFERENCES notifications(id),
  webhook TEXT NOT NULL, endpoint TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL, delivered_at TEXT, failed_at TEXT,
  last_error TEXT NOT NULL DEFAULT '', PRIMARY KEY (notification_id, webhook));
CREATE INDEX notifications_to_fan_out ON notifications(id) WHERE fanned_out = 0;
CREATE INDEX notification_deliveries_due ON notification_deliveries(webhook, next_at)
  WHERE delivered_at IS NULL AND failed_at IS NULL;
)SQL"},
      {7, "controller replicas: region leases with epochs", R"SQL(
-- orchestrator/controller/leases.cpp: which controller drives a region of a rollout
-- (region '' is the rollout's own record). expires_ms and seen_ms are the database's
-- clock in Unix milliseconds, so that replicas on different machines agree on expiry.
-- epoch grows with every change of holder: writes under an older one are refused.
CREATE TABLE region_leases (
  rollout_id TEXT NOT NULL, region TEXT NOT NULL, holder TEXT NOT NULL,
  epoch INTEGER NOT NULL, expires_ms INTEGER NOT NULL, PRIMARY KEY (rollout_id, region));
CREATE INDEX region_leases_by_holder ON region_leases(holder);
CREATE TABLE controller_replicas (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, started_at TEXT NOT NULL, seen_ms INTEGER NOT NULL);
-- Bumped by every write of a region's record: another replica's cached copy is stale
-- when its rev differs.
ALTER TABLE rollout_regions ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
)SQL"},
  };
  return list;
}

Result<int> schema_version(Database& db) {
  PW_TRY_ASSIGN(std::string create,
                migration_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                              "PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                              db.dialect()));
  PW_TRY(db.exec(create));
  PW_TRY_ASSIGN(Statement query,
                db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  PW_TRY(query.step());
  return static_cast<int>(query.integer(0));
}

Status migrate(Database& db, int target) {
  const auto& list = migrations();
  int latest = list.back().version;
  if (target < 0) target = latest;
  PW_TRY_ASSIGN(int current, schema_version(db));
  if (current > latest) {
    return make_error(Errc::conflict, db.name() + ": the store has schema version " +
                                          std::to_string(current) + ", newer than this program's " +
                                          std::to_string(latest) + "; upgrade Patchwave");
  }
  for (const auto& migration : list) {
    if (migration.version <= current || migration.version > target) continue;
    auto applied = db.transaction([&]() -> Status {
      // Under the write lock: another process may have applied it meanwhile.
      PW_TRY_ASSIGN(Statement done,
                    db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?1"));
      done.bind(1, std::int64_t{migration.version});
      PW_TRY_ASSIGN(bool already, done.step());
      if (already) return Ok{};
      PW_TRY_ASSIGN(std::string sql, migration_sql(migration.sql, db.dialect()));
      PW_TRY(db.exec(sql));
      PW_TRY_ASSIGN(Statement record, db.prepare("INSERT INTO schema_migrations (version, name, "
                                                 "applied_at) VALUES (?1, ?2, ?3)"));
      record.bind(1, std::int64_t{migration.version})
          .bind(2, migration.name)
          .bind(3, log::now_rfc3339());
      return record.run();
    });
    if (!applied.ok()) {
      return std::move(applied).error().with_context("migration " +
                                                     std::to_string(migration.version) + " (" +
                                                     std::string(migration.name) + ")");
    }
  }
  return Ok{};
}

}  // namespace pw::store
