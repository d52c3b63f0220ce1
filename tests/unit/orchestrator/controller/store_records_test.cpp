// The rollout engine's Records port on the real SQLite store: a saved state and its audit
// event are kept together or not at all.
#include <catch2/catch.hpp>

#include <mutex>

#include "orchestrator/controller/rollout_ports.hpp"
#include "orchestrator/store/store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/orchestrator/controller/rollout_fixture.hpp"

namespace {

std::int64_t count(pw::store::Store& store, const std::string& table) {
  auto query = store.db().prepare("SELECT count(*) FROM " + table);
  REQUIRE(query.ok());
  REQUIRE(*query->step());
  return query->integer(0);
}

}  // namespace

TEST_CASE("save_audited keeps the state and its audit event in one transaction") {
  pw::test::TempDir dir;
  auto opened = pw::store::Store::open(dir / "store.db");
  REQUIRE(opened.ok());
  auto& store = **opened;
  std::mutex mutex;
  pw::controller::StoreRecords records(store, mutex);
  auto r = pw::test::a_rollout({"bw"});

  REQUIRE(
      records.save_audited(r, {"controller", "rollout.create", {{"rollout", r.id}}, "ok"}).ok());
  CHECK(count(store, "rollouts") == 1);
  CHECK(count(store, "events") == 1);

  // Only the event changes: it is still written.
  REQUIRE(
      records.save_audited(r, {"controller", "rollout.running", {{"rollout", r.id}}, "ok"}).ok());
  CHECK(count(store, "events") == 2);

  // The event cannot be written (its table is gone): the new state is not kept either.
  REQUIRE(store.db().exec("DROP TABLE events").ok());
  r.regions[0].state = pw::rollout::RegionState::awaiting_approval;
  auto failed = records.save_audited(
      r, {"controller", "rollout.region", {{"rollout", r.id}, {"to", "awaiting_approval"}}, "ok"});
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.error().to_string(), Catch::Contains("appending an audit event"));
  auto query = store.db().prepare("SELECT state FROM rollout_regions WHERE rollout_id = 'r1'");
  REQUIRE(query.ok());
  REQUIRE(*query->step());
  CHECK(query->text(0) == "pending");
}
