// The store's cases run against SQLite, and against PostgreSQL under
// unit.store.postgresql (tests/support/with_pg.sh sets PATCHWAVE_TEST_PG_URL).
#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "orchestrator/store/store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_store.hpp"

using namespace pw::store;
using pw::test::fresh_store;

namespace {

int version_of(Database& db) {
  auto version = schema_version(db);
  REQUIRE(version.ok());
  return *version;
}

std::string drop_trigger(const Database& db, const std::string& name) {
  if (db.dialect() == Dialect::postgresql) return "DROP TRIGGER " + name + " ON events";
  return "DROP TRIGGER " + name;
}

}  // namespace

TEST_CASE("a store made by the previous schema is upgraded in place, its data intact") {
  for (const auto& migration : migrations()) {
    if (migration.version == 1) continue;
    // Build the database as schema version (this migration - 1) left it, with a row.
    pw::test::TempDir step_dir;
    auto old = Database::open(fresh_store(step_dir, "old.db"));
    REQUIRE(old.ok());
    REQUIRE(migrate(**old, migration.version - 1).ok());
    CHECK(version_of(**old) == migration.version - 1);
    REQUIRE((*old)
                ->exec("INSERT INTO servers (name, region, address, provider, state, created_at, "
                       "updated_at) VALUES ('bw-r1-0', 'bw', '127.1.0.1:7443', 'local', 'running', "
                       "'t', 't')")
                .ok());
    REQUIRE(migrate(**old).ok());
    CHECK(version_of(**old) == migrations().back().version);
    auto query = (*old)->prepare("SELECT region, address FROM servers WHERE name = 'bw-r1-0'");
    REQUIRE(query.ok());
    REQUIRE(query->step().value());
    CHECK(query->text(0) == "bw");
    CHECK(query->text(1) == "127.1.0.1:7443");
  }
}

TEST_CASE("a store from a newer Patchwave is refused, not downgraded") {
  pw::test::TempDir dir;
  auto db = Database::open(fresh_store(dir));
  REQUIRE(db.ok());
  REQUIRE(migrate(**db).ok());
  REQUIRE((*db)
              ->exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, "
                     "'future', '2030-01-01T00:00:00Z')")
              .ok());
  auto again = migrate(**db);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == pw::Errc::conflict);
  CHECK_THAT(again.error().message, Catch::Contains("newer than this program"));
}

TEST_CASE("migrating twice changes nothing and records each version once") {
  pw::test::TempDir dir;
  auto where = fresh_store(dir);
  REQUIRE(Store::open(where).ok());
  auto store = Store::open(where);
  REQUIRE(store.ok());
  auto query = (*store)->db().prepare(
      "SELECT COUNT(*), MIN(version), MAX(version), MIN(applied_at) FROM schema_migrations");
  REQUIRE(query.ok());
  REQUIRE(query->step().value());
  CHECK(query->integer(0) == static_cast<std::int64_t>(migrations().size()));
  CHECK(query->integer(1) == 1);
  CHECK(query->integer(2) == migrations().back().version);
  CHECK(query->text(3).size() == 20);  // RFC 3339, UTC, seconds
}

TEST_CASE("a store that does not exist yet is not created by a reader") {
  pw::test::TempDir dir;
  auto where = fresh_store(dir);
  auto missing = Store::open(where, false);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == pw::Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains(where.describe()));
  REQUIRE(Store::open(where, true).ok());
  CHECK(Store::open(where, false).ok());
}

TEST_CASE("audit events chain to each other and survive reopening the store") {
  pw::test::TempDir dir;
  auto where = fresh_store(dir);
  std::string first_hash;
  {
    auto store = Store::open(where);
    REQUIRE(store.ok());
    auto& log = (*store)->audit();
    auto a = log.append({"controller", "sync", {{"revision", "3f2a"}}, "ok"});
    REQUIRE(a.ok());
    CHECK(a->seq == 1);
    CHECK(a->prev_hash == kGenesisHash);
    first_hash = a->hash;
    auto b = log.append({"operator:alice", "rollout.start", {{"release", "demo@1.0.1"}}, "ok"});
    REQUIRE(b.ok());
    CHECK(b->prev_hash == a->hash);
  }
  auto store = Store::open(where, false);
  REQUIRE(store.ok());
  auto& log = (*store)->audit();
  auto report = log.verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->events == 2);
  auto events = log.read(2);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK(events->front().action == "rollout.start");
  CHECK(events->front().prev_hash == first_hash);
  CHECK(report->head_hash == events->front().hash);
}

TEST_CASE("audit appends from several connections at once stay one chain") {
  pw::test::TempDir dir;
  auto where = fresh_store(dir);
  REQUIRE(Store::open(where).ok());
  constexpr int kWriters = 4, kEach = 15;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kWriters; ++i) {
    auto store = Store::open(where);
    REQUIRE(store.ok());
    stores.push_back(std::move(*store));
  }
  std::vector<int> failures(kWriters, 0);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        auto event = stores[static_cast<std::size_t>(w)]->audit().append(
            {"writer:" + std::to_string(w), "tick", {{"i", i}}, "ok"});
        if (!event.ok()) ++failures[static_cast<std::size_t>(w)];
      }
    });
  }
  for (auto& writer : writers) writer.join();
  for (int w = 0; w < kWriters; ++w) CHECK(failures[static_cast<std::size_t>(w)] == 0);
  auto report = stores[0]->audit().verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->events == kWriters * kEach);
}

TEST_CASE("audit events cannot be changed or deleted through SQL, and a bypass is named") {
  pw::test::TempDir dir;
  auto store = Store::open(fresh_store(dir));
  REQUIRE(store.ok());
  auto& log = (*store)->audit();
  for (int i = 0; i < 3; ++i) REQUIRE(log.append({"controller", "tick", {{"i", i}}, "ok"}).ok());
  auto& db = (*store)->db();
  auto forged = db.exec("UPDATE events SET outcome = 'forged' WHERE seq = 2");
  REQUIRE_FALSE(forged.ok());
  CHECK_THAT(forged.error().message, Catch::Contains("audit events are append-only"));
  auto deleted = db.exec("DELETE FROM events WHERE seq = 3");
  REQUIRE_FALSE(deleted.ok());
  CHECK_THAT(deleted.error().message, Catch::Contains("audit events are append-only"));
  REQUIRE(db.exec(drop_trigger(db, "events_no_update")).ok());
  REQUIRE(db.exec("UPDATE events SET inputs = '{\"i\":7}' WHERE seq = 2").ok());
  auto report = log.verify();
  REQUIRE(report.ok());
  CHECK_FALSE(report->intact);
  CHECK(report->first_broken == 2);
  CHECK(report->events == 1);
  CHECK_THAT(report->reason, Catch::Contains("changed after it was written"));

  REQUIRE(db.exec(drop_trigger(db, "events_no_delete")).ok());
  REQUIRE(db.exec("DELETE FROM events WHERE seq = 2").ok());
  report = log.verify();
  REQUIRE(report.ok());
  CHECK(report->first_broken == 2);
  CHECK_THAT(report->reason, Catch::Contains("event 2 is missing"));
}

TEST_CASE("an audit event with a float in its inputs is refused and nothing is written") {
  pw::test::TempDir dir;
  auto store = Store::open(fresh_store(dir));
  REQUIRE(store.ok());
  auto& log = (*store)->audit();
  auto bad = log.append({"controller", "analysis", {{"error_rate", 0.5}}, "ok"});
  REQUIRE_FALSE(bad.ok());
  auto head = log.head();
  REQUIRE(head.ok());
  CHECK_FALSE(head->has_value());
}

TEST_CASE("statements: numbered parameters, NULLs, 64-bit integers, quotes left alone") {
  pw::test::TempDir dir;
  auto store = Store::open(fresh_store(dir));
  REQUIRE(store.ok());
  auto& db = (*store)->db();
  REQUIRE(db.exec("INSERT INTO notifications (id, event, payload, created_at) VALUES (7, 'e', "
                  "'{}', 't')")
              .ok());
  auto insert = db.prepare(
      "INSERT INTO notification_deliveries (notification_id, webhook, endpoint, next_at, "
      "failed_at) VALUES (?1, ?2, '?3 stays text', ?3, ?4)");
  REQUIRE(insert.ok());
  const std::int64_t big = std::int64_t{1} << 53;
  insert->bind(1, std::int64_t{7}).bind(2, "hook").bind(3, big).bind_null(4);
  REQUIRE(insert->run().ok());
  auto query = db.prepare(
      "SELECT notification_id, endpoint, next_at, failed_at, attempts FROM "
      "notification_deliveries WHERE webhook = ?1 AND next_at = ?2");
  REQUIRE(query.ok());
  query->bind(1, "hook").bind(2, big);
  REQUIRE(query->step().value());
  CHECK(query->integer(0) == 7);
  CHECK(query->text(1) == "?3 stays text");
  CHECK(query->integer(2) == big);
  CHECK(query->is_null(3));
  CHECK(query->text(3).empty());
  CHECK(query->integer(4) == 0);
  CHECK_FALSE(query->step().value());

  auto bare = db.prepare("SELECT 1 WHERE 1 = ?");
  REQUIRE_FALSE(bare.ok());
  CHECK_THAT(bare.error().message, Catch::Contains("numbered ?1 to ?999"));
}

TEST_CASE("a statement prepared again starts clean: no old bindings, no open read") {
  pw::test::TempDir dir;
  auto store = Store::open(fresh_store(dir));
  REQUIRE(store.ok());
  auto& db = (*store)->db();
  REQUIRE(
      db.exec("CREATE TABLE scratch (n INTEGER); INSERT INTO scratch VALUES (1), (2), (3)").ok());
  const char* sql = "SELECT n, ?1 FROM scratch ORDER BY n";
  {
    auto first = db.prepare(sql);
    REQUIRE(first.ok());
    first->bind(1, "bound");
    REQUIRE(first->step().value());  // left mid-way, one row read of three
    CHECK(first->text(1) == "bound");
  }
  {
    auto again = db.prepare(sql);  // SQLite: the same statement, from the cache
    REQUIRE(again.ok());
    REQUIRE(again->step().value());
    CHECK(again->integer(0) == 1);  // from the start
    CHECK(again->is_null(1));       // the old binding is gone
  }
  // Nothing holds the table: a write transaction (and a schema change) goes through.
  REQUIRE(db.transaction([&]() -> pw::Status { return db.exec("DROP TABLE scratch"); }).ok());
  auto gone = db.prepare("SELECT n FROM scratch");
  bool readable = gone.ok() && gone->step().ok();
  CHECK_FALSE(readable);
}

TEST_CASE("the insertion order of rollout regions is kept (ORDER BY rowid)") {
  pw::test::TempDir dir;
  auto store = Store::open(fresh_store(dir));
  REQUIRE(store.ok());
  auto& db = (*store)->db();
  REQUIRE(db.exec("INSERT INTO rollouts (id, app, version, target, sha256, urgency, state, plan, "
                  "created_at, updated_at) VALUES ('r1', 'a', '1', 't', 's', 'routine', "
                  "'running', '{}', 't', 't')")
              .ok());
  for (const char* region : {"zz", "aa", "mm"}) {
    auto insert = db.prepare(
        "INSERT INTO rollout_regions (rollout_id, region, wave, state, updated_at) VALUES "
        "('r1', ?1, 1, 'pending', 't')");
    REQUIRE(insert.ok());
    insert->bind(1, region);
    REQUIRE(insert->run().ok());
  }
  auto query = db.prepare("SELECT region FROM rollout_regions ORDER BY rowid");
  REQUIRE(query.ok());
  std::vector<std::string> order;
  while (query->step().value()) order.push_back(query->text(0));
  CHECK(order == std::vector<std::string>{"zz", "aa", "mm"});
}

TEST_CASE("a failed write transaction leaves nothing behind, and the store goes on") {
  pw::test::TempDir dir;
  auto store = Store::open(fresh_store(dir));
  REQUIRE(store.ok());
  auto& db = (*store)->db();
  auto failed = db.transaction([&]() -> pw::Status {
    PW_TRY(
        db.exec("INSERT INTO sync_state (id, source, revision, targets, synced_at) VALUES "
                "(1, 's', 'r', '{}', 't')"));
    return db.exec(
        "INSERT INTO sync_state (id, source, revision, targets, synced_at) VALUES "
        "(2, 's', 'r', '{}', 't')");  // CHECK (id = 1)
  });
  REQUIRE_FALSE(failed.ok());
  auto count = db.prepare("SELECT COUNT(*) FROM sync_state");
  REQUIRE(count.ok());
  REQUIRE(count->step().value());
  CHECK(count->integer(0) == 0);
  CHECK((*store)->audit().append({"controller", "tick", {}, "ok"}).ok());
}

TEST_CASE("an integer column reads strictly: text that is not a whole number is an error") {
  pw::test::TempDir dir;
  auto db = Database::open(fresh_store(dir));
  REQUIRE(db.ok());
  auto query = (*db)->prepare("SELECT 'twelve', '12', ?1");
  REQUIRE(query.ok());
  query->bind(1, std::int64_t{-9007199254740993});
  REQUIRE(query->step().value());
  CHECK(query->integer(2) == -9007199254740993);
  if ((*db)->dialect() == Dialect::postgresql) {
    // PostgreSQL sends every value as text: '12' is a number, 'twelve' is refused.
    CHECK(query->integer(1) == 12);
    CHECK(query->integer(0) == 0);
    auto next = query->step();
    REQUIRE_FALSE(next.ok());
    CHECK(next.error().code == pw::Errc::parse);
    CHECK_THAT(next.error().message, Catch::Contains("column 0 ('twelve')"));
  } else {
    // SQLite converts as it always has (a leading number, else 0).
    CHECK(query->integer(0) == 0);
    CHECK_FALSE(query->step().value());
  }
}

TEST_CASE(
    "a body that goes on after a failed statement: SQLite commits the rest, "
    "PostgreSQL commits nothing and says so") {
  pw::test::TempDir dir;
  auto store = Store::open(fresh_store(dir));
  REQUIRE(store.ok());
  auto& db = (*store)->db();
  auto status = db.transaction([&]() -> pw::Status {
    PW_TRY(
        db.exec("INSERT INTO sync_state (id, source, revision, targets, synced_at) VALUES "
                "(1, 's', 'r', '{}', 't')"));
    CHECK_FALSE(db.exec("INSERT INTO sync_state (id, source, revision, targets, synced_at) "
                        "VALUES (2, 's', 'r', '{}', 't')")
                    .ok());
    return pw::Ok{};
  });
  auto count = db.prepare("SELECT COUNT(*) FROM sync_state");
  REQUIRE(count.ok());
  REQUIRE(count->step().value());
  if (db.dialect() == Dialect::postgresql) {
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.error().message, Catch::Contains("none of it was committed"));
    CHECK(count->integer(0) == 0);
  } else {
    CHECK(status.ok());
    CHECK(count->integer(0) == 1);
  }
}

TEST_CASE("a dropped PostgreSQL connection is made again, but not inside a transaction") {
  pw::test::TempDir dir;
  auto where = fresh_store(dir);
  auto store = Store::open(where);
  REQUIRE(store.ok());
  auto& db = (*store)->db();
  if (db.dialect() != Dialect::postgresql) {
    SUCCEED("a SQLite store has no connection to lose");
    return;
  }
  auto other = Database::open(where);
  REQUIRE(other.ok());
  auto terminate = [&] {
    auto pid = db.prepare("SELECT pg_backend_pid()");
    REQUIRE(pid.ok());
    REQUIRE(pid->step().value());
    REQUIRE((*other)->exec("SELECT pg_terminate_backend(" + pid->text(0) + ")").ok());
  };
  terminate();
  // The first use after the server dropped it fails (libpq learns of it then) ...
  auto lost = (*store)->audit().append({"controller", "tick", {}, "ok"});
  // ... and the next one reconnects.
  REQUIRE((*store)->audit().append({"controller", "tick", {}, "ok"}).ok());

  auto in_body = db.transaction([&]() -> pw::Status {
    PW_TRY(
        db.exec("INSERT INTO sync_state (id, source, revision, targets, synced_at) VALUES "
                "(1, 's', 'r', '{}', 't')"));
    terminate();
    (void)db.exec("SELECT 1");  // fails: the connection is gone
    return db.exec(
        "INSERT INTO audit_checkpoints (seq, head_hash, document, created_at) "
        "VALUES (1, 'h', '{}', 't')");
  });
  REQUIRE_FALSE(in_body.ok());
  CHECK_THAT(in_body.error().message, Catch::Contains("lost inside a transaction"));
  auto count = db.prepare(
      "SELECT (SELECT COUNT(*) FROM sync_state) + (SELECT COUNT(*) FROM "
      "audit_checkpoints)");
  REQUIRE(count.ok());
  REQUIRE(count->step().value());
  CHECK(count->integer(0) == 0);
  auto report = (*store)->audit().verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->events == (lost.ok() ? 2 : 1));
}
