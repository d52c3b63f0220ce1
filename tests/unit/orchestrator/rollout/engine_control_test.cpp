// The rollout engine against in-memory fakes: waves, operators' commands, and a crash
// at every single save of a rollout.
#include <catch2/catch.hpp>

#include "tests/unit/orchestrator/rollout/world.hpp"

using namespace fakes;

TEST_CASE("waves: the next wave starts when the previous one has finished", "[rollout]") {
  World world({region("bw", 1), region("by", 2), region("nw", 2)});
  world.start();
  while (world.at("bw").state != RegionState::succeeded) {
    CHECK(world.at("by").state == RegionState::pending);
    CHECK(world.at("nw").state == RegionState::pending);
    REQUIRE(world.tick().ok());
  }
  world.run();
  CHECK(world.rollout.state == RolloutState::succeeded);
  CHECK(world.fleet.leaked().empty());
}

TEST_CASE("failure policy: halt stops later waves, continue lets them go on", "[rollout]") {
  auto policy = GENERATE(std::string("halt"), std::string("continue"));
  World world({region("bw", 1, 2, policy), region("by", 2)});
  world.agents.stage_fails.insert("bw-r1-0");
  world.start();
  world.run();
  CHECK(world.at("bw").state == RegionState::rolled_back);
  if (policy == "halt") {
    CHECK(world.at("by").state == RegionState::aborted);
    CHECK(world.at("by").reason == "not started: region bw rolled back (failure_policy: halt)");
    CHECK(world.rollout.state == RolloutState::rolled_back);
    CHECK(world.fleet.provision_calls == 1);
  } else {
    CHECK(world.at("by").state == RegionState::succeeded);
    CHECK(world.rollout.state == RolloutState::partially_failed);
  }
  CHECK(world.fleet.leaked().empty());
}

TEST_CASE("operators pause, resume, abort and roll back through queued commands", "[rollout]") {
  World world({region("bw", 1), region("by", 1)});
  world.serving("bw");
  world.serving("by");
  world.start();
  while (world.at("bw").state != RegionState::shifting) REQUIRE(world.tick().ok());

  SECTION("pause holds the region where it is; resume starts the step over") {
    world.records.queue.push_back({1, "r1", "bw", "pause", "operator:alice"});
    for (int i = 0; i < 30; ++i) REQUIRE(world.tick().ok());
    CHECK(world.at("bw").state == RegionState::shifting);
    CHECK(world.at("bw").step == 0);
    CHECK(world.at("by").state != RegionState::shifting);  // by went on meanwhile
    world.records.queue.push_back({2, "r1", "bw", "resume", "operator:alice"});
    world.run();
    CHECK(world.rollout.state == RolloutState::succeeded);
  }
  SECTION("abort: traffic back at once, the new servers go, the rollout is aborted") {
    world.records.queue.push_back({1, "r1", "", "abort", "operator:alice"});
    REQUIRE(world.tick().ok());
    CHECK(world.at("bw").state == RegionState::aborted);
    CHECK(world.at("bw").reason == "aborted by operator:alice");
    CHECK(world.traffic.percent_on("app_bw", "-r0-") == 100);
    world.run();
    CHECK(world.rollout.state == RolloutState::aborted);
    CHECK(world.fleet.leaked().empty());
  }
  SECTION("rollback while baking: the old servers, still kept, take the traffic back") {
    while (world.at("bw").state != RegionState::baking) REQUIRE(world.tick().ok());
    CHECK(world.traffic.percent_on("app_bw", "-r1-") == 100);
    world.records.queue.push_back({1, "r1", "bw", "rollback", "operator:alice"});
    REQUIRE(world.tick().ok());
    CHECK(world.at("bw").state == RegionState::rolled_back);
    CHECK(world.at("bw").reason == "rollback requested by operator:alice");
    CHECK(world.traffic.percent_on("app_bw", "-r0-") == 100);
  }
  SECTION("rollback is refused where there is nothing to roll back to yet") {
    world.records.queue.push_back({1, "r1", "by", "rollback", "operator:alice"});
    auto by_state = world.at("by").state;
    REQUIRE(world.tick().ok());
    if (by_state != RegionState::shifting && by_state != RegionState::baking) {
      CHECK(world.records.audit_log.back().find("not applicable") != std::string::npos);
    }
  }
}

TEST_CASE("a crash at any save: the restarted engine finishes with nothing leaked", "[rollout]") {
  // How many saves does an undisturbed rollout make?
  World reference({region("bw", 1)});
  reference.serving("bw");
  reference.start();
  reference.run();
  REQUIRE(reference.rollout.state == RolloutState::succeeded);
  int saves = static_cast<int>(reference.records.saves.size());
  REQUIRE(saves > 10);

  auto crash = GENERATE_COPY(range(2, saves + 1));
  World world({region("bw", 1)});
  world.serving("bw");
  world.start();
  world.records.crash_at_save = crash;
  for (int i = 0; i < 600 && world.records.crash_at_save != 0; ++i) {
    if (!world.tick().ok()) {
      // The process died inside that save: what survives is the last record saved.
      auto restored = Rollout::from_json(world.records.saves.back());
      REQUIRE(restored.ok());
      world.rollout = *restored;
      world.records.crash_at_save = 0;
      world.engine = std::make_unique<Engine>(Ports{&world.clock, &world.fleet, &world.agents,
                                                    &world.probe, &world.traffic, &world.records},
                                              test_options());
    }
  }
  world.run();
  INFO("crash at save " << crash << " of " << saves);
  CHECK(world.rollout.state == RolloutState::succeeded);
  CHECK(world.traffic.percent_on("app_bw", "-r1-") == 100);
  CHECK(world.traffic.backends["app_bw"].size() == 2);
  CHECK(world.fleet.leaked().empty());
}

TEST_CASE("services started in the background: regions go on, a failed start rolls back",
          "[rollout]") {
  Options options = test_options();
  options.background_start = true;
  SECTION("two regions of a wave both get through") {
    World world({region("bw", 1), region("by", 1)}, options);
    world.start();
    world.run();
    CHECK(world.rollout.state == RolloutState::succeeded);
    CHECK(world.agents.started["bw-r1-0"] == 1);
    CHECK(world.agents.started["by-r1-1"] == 1);
    CHECK(world.fleet.leaked().empty());
  }
  SECTION("an agent that refuses the start") {
    World world({region("bw", 1)}, options);
    world.serving("bw");
    world.agents.start_fails.insert("bw-r1-1");
    world.start();
    world.run();
    CHECK(world.at("bw").state == RegionState::rolled_back);
    CHECK(world.at("bw").reason ==
          "bw-r1-1: the service did not start: the service exited at once");
    CHECK(world.fleet.leaked().empty());
    CHECK(world.traffic.percent_on("app_bw", "-r0-") == 100);
  }
}
