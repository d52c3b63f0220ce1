#include <catch2/catch.hpp>

#include "orchestrator/store/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace pw::store;

namespace {

int version_of(Database& db) {
  auto version = schema_version(db);
  REQUIRE(version.ok());
  return *version;
}

}  // namespace

TEST_CASE("a store made by the previous schema is upgraded in place, its data intact") {
  pw::test::TempDir dir;
  auto db = Database::open(dir / "store.db");
  REQUIRE(db.ok());
  for (const auto& migration : migrations()) {
    if (migration.version == 1) continue;
    // Build the database as schema version (this migration - 1) left it, with a row.
    pw::test::TempDir step_dir;
    auto old = Database::open(step_dir / "old.db");
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
  auto db = Database::open(dir / "store.db");
  REQUIRE(db.ok());
  REQUIRE(migrate(**db).ok());
  REQUIRE((*db)->exec("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')").ok());
  auto again = migrate(**db);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == pw::Errc::conflict);
  CHECK_THAT(again.error().message, Catch::Contains("newer than this program"));
}

TEST_CASE("audit events chain to each other and survive reopening the store") {
  pw::test::TempDir dir;
  std::string first_hash;
  {
    auto store = Store::open(dir / "store.db");
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
  auto store = Store::open(dir / "store.db", false);
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

TEST_CASE("audit events cannot be changed or deleted through SQL, and a bypass is named") {
  pw::test::TempDir dir;
  auto store = Store::open(dir / "store.db");
  REQUIRE(store.ok());
  auto& log = (*store)->audit();
  for (int i = 0; i < 3; ++i) REQUIRE(log.append({"controller", "tick", {{"i", i}}, "ok"}).ok());
  auto& db = (*store)->db();
  CHECK_FALSE(db.exec("UPDATE events SET outcome = 'forged' WHERE seq = 2").ok());
  CHECK_FALSE(db.exec("DELETE FROM events WHERE seq = 3").ok());
  REQUIRE(db.exec("DROP TRIGGER events_no_update").ok());
  REQUIRE(db.exec("UPDATE events SET inputs = '{\"i\":7}' WHERE seq = 2").ok());
  auto report = log.verify();
  REQUIRE(report.ok());
  CHECK_FALSE(report->intact);
  CHECK(report->first_broken == 2);
  CHECK(report->events == 1);
  CHECK_THAT(report->reason, Catch::Contains("changed after it was written"));

  REQUIRE(db.exec("DROP TRIGGER events_no_delete").ok());
  REQUIRE(db.exec("DELETE FROM events WHERE seq = 2").ok());
  report = log.verify();
  REQUIRE(report.ok());
  CHECK(report->first_broken == 2);
  CHECK_THAT(report->reason, Catch::Contains("event 2 is missing"));
}

TEST_CASE("an audit event with a float in its inputs is refused and nothing is written") {
  pw::test::TempDir dir;
  auto store = Store::open(dir / "store.db");
  REQUIRE(store.ok());
  auto& log = (*store)->audit();
  auto bad = log.append({"controller", "analysis", {{"error_rate", 0.5}}, "ok"});
  REQUIRE_FALSE(bad.ok());
  auto head = log.head();
  REQUIRE(head.ok());
  CHECK_FALSE(head->has_value());
}
