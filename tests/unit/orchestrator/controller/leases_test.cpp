// Region leases and fencing (controller/leases.hpp) on the real store, SQLite and (under
// tests/support/with_pg.sh) PostgreSQL: two "replicas" are two StoreLeases with their
// own names and their own connections to one store.
#include <catch2/catch.hpp>

#include <mutex>
#include <thread>

#include "orchestrator/controller/leases.hpp"
#include "orchestrator/controller/rollout_ports.hpp"
#include "orchestrator/store/store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_store.hpp"
#include "tests/unit/orchestrator/controller/rollout_fixture.hpp"

using namespace std::chrono_literals;

namespace {

struct Replica {
  std::unique_ptr<pw::store::Store> store;
  std::mutex mutex;
  std::unique_ptr<pw::controller::StoreLeases> leases;
  std::unique_ptr<pw::controller::StoreRecords> records;

  Replica(const pw::store::Location& where, const std::string& name,
          std::chrono::milliseconds ttl) {
    auto opened = pw::store::Store::open(where);
    REQUIRE(opened.ok());
    store = std::move(*opened);
    pw::controller::LeaseOptions options;
    options.replica = name;
    options.ttl = ttl;
    options.margin = 50ms;
    leases = std::make_unique<pw::controller::StoreLeases>(*store, mutex, options);
    records = std::make_unique<pw::controller::StoreRecords>(*store, mutex);
    records->set_leases(leases.get());
  }
  pw::rollout::Rollout load() {
    auto all = records->load(true);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 1);
    return all->front();
  }
};

const std::set<pw::controller::StoreLeases::Key> kWanted = {{"r1", ""}, {"r1", "bw"}, {"r1", "by"}};

}  // namespace

TEST_CASE(
    "one replica drives a region; a stale one is fenced off in the store and before side "
    "effects") {
  pw::test::TempDir dir;
  auto where = pw::test::fresh_store(dir);
  Replica a(where, "a", 400ms), b(where, "b", 400ms);
  // a creates the rollout (no claim needed for a new record) and both start ticking.
  auto r = pw::test::a_rollout({"bw", "by"});
  REQUIRE(a.records->save(r).ok());
  a.leases->begin_tick(kWanted);
  b.leases->begin_tick(kWanted);

  REQUIRE(a.leases->drives("r1", "bw"));
  CHECK_FALSE(b.leases->drives("r1", "bw"));  // held by a, unexpired
  CHECK(a.leases->fence("r1", "bw").ok());
  CHECK_FALSE(b.leases->fence("r1", "bw").ok());

  // a writes its region; b's copy of the rollout sees it.
  auto mine = a.load();
  mine.regions[0].step = 7;
  REQUIRE(a.records->save(mine).ok());
  CHECK(b.load().regions[0].step == 7);

  // a stops renewing (paused); once its lease has expired b takes the region over with a
  // higher epoch.
  std::this_thread::sleep_for(450ms);
  REQUIRE(b.leases->drives("r1", "bw"));
  CHECK(b.leases->epoch("r1", "bw").value() == a.leases->epoch("r1", "bw").value() + 1);

  // a wakes up: no side effect (its own clock says the claim may be gone; renewing it
  // fails), and its write is refused by the store, so the state b drives is intact.
  auto fenced = a.leases->fence("r1", "bw");
  REQUIRE_FALSE(fenced.ok());
  CHECK(fenced.error().code == pw::Errc::conflict);
  CHECK_THAT(fenced.error().message, Catch::Contains("fenced"));
  mine.regions[0].step = 99;
  auto refused = a.records->save(mine);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("fenced"));
  CHECK(b.load().regions[0].step == 7);
  CHECK_FALSE(a.leases->drives("r1", "bw"));

  // b writes under its epoch.
  auto theirs = b.load();
  theirs.regions[0].step = 8;
  REQUIRE(b.records->save(theirs).ok());
  CHECK(a.load().regions[0].step == 8);
}

TEST_CASE("replicas split the regions by fair share, and a restart reclaims at once") {
  pw::test::TempDir dir;
  auto where = pw::test::fresh_store(dir);
  auto r = pw::test::a_rollout({"bw", "by"});
  {
    Replica a(where, "a", 10s), b(where, "b", 10s);
    REQUIRE(a.records->save(r).ok());
    a.leases->begin_tick(kWanted);
    b.leases->begin_tick(kWanted);
    a.leases->begin_tick(kWanted);  // sees b now: two live replicas, one region each
    CHECK(a.leases->drives("r1", "bw"));
    CHECK_FALSE(a.leases->drives("r1", "by"));  // its share is one region
    CHECK(b.leases->drives("r1", "by"));
    CHECK_FALSE(b.leases->drives("r1", "bw"));
  }
  // a's next life (same name: its state directory is locked, so the old one is gone)
  // takes its region back without waiting for the lease, under a new epoch.
  Replica again(where, "a", 10s);
  again.leases->begin_tick(kWanted);
  CHECK(again.leases->drives("r1", "bw"));
  CHECK(again.leases->epoch("r1", "bw").value() == 2);
  // Finished regions are given back: the row goes.
  again.leases->begin_tick({{"r1", ""}, {"r1", "by"}});
  auto rows = again.store->db().prepare("SELECT count(*) FROM region_leases WHERE region = 'bw'");
  REQUIRE(rows.ok());
  REQUIRE(*rows->step());
  CHECK(rows->integer(0) == 0);
}
