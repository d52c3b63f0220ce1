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

namespace {

// The controller's loop sleeps until Engine::wake (at most a second): these ticks do the
// same, with load on the backends for the time that passed.
struct SleepyLoop {
  World& world;
  int ticks = 0;
  Millis last_wake = 0;
  pw::Status tick() {
    world.engine->begin_round();
    ++ticks;
    auto status = world.engine->tick(world.rollout, world.policy);
    if (status.ok() && !world.records.saves.empty()) {
      auto saved = Rollout::from_json(world.records.saves.back());
      REQUIRE(saved.ok());
      world.rollout = *saved;
    }
    world.note_states();
    last_wake = world.engine->wake();
    Millis next = std::min(last_wake, world.clock.t + 1000);
    Millis step = std::max<Millis>(100, next - world.clock.t);  // the loop turns every 100 ms
    for (const auto& r : world.policy.regions) {
      world.traffic.pump(r.backend, static_cast<int>(world.load * step / 1000));
    }
    world.clock.t += step;
    return status;
  }
};

Rollout start_with_interval(World& world, std::int64_t interval_ms) {
  auto info = release();
  info.release["health"]["interval_ms"] = interval_ms;
  auto made = world.engine->create("r1", info, world.policy, {}, "operator:test");
  REQUIRE(made.ok());
  return *made;
}

}  // namespace

TEST_CASE("the engine says when its loop must tick again", "[rollout]") {
  World world({region("bw", 1)});  // step_wait 5 s, bake 10 s
  world.serving("bw");
  world.rollout = start_with_interval(world, 4000);
  auto wake_after_tick = [&] {
    world.engine->begin_round();
    REQUIRE(world.engine->tick(world.rollout, world.policy).ok());
    return world.engine->wake();
  };
  // Busy states (the gate, provisioning, staging, starting): at once.
  CHECK(wake_after_tick() == world.clock.t);
  while (world.at("bw").state != RegionState::shifting) {
    Millis before = world.clock.t;
    Millis wake = wake_after_tick();
    const RegionRun& bw = world.at("bw");
    if (bw.state == RegionState::verifying && bw.last_health != 0) {
      CHECK(wake == bw.last_health + 4000);  // the gate's next check
    } else {
      CHECK(wake == before);  // busy, or just moved on
    }
    world.clock.t += 1000;
  }
  // In a step: the next check or the end of the step, whichever comes first; the loop
  // sleeping until then loses nothing (the step ends on time).
  bool ended_by_step = false;
  for (int i = 0; i < 10 && world.at("bw").step == 0; ++i) {
    Millis wake = wake_after_tick();
    const RegionRun& bw = world.at("bw");
    if (bw.step != 0) break;
    CHECK(wake == std::min(bw.last_health + 4000, bw.step_since + 5000));
    CHECK(wake > world.clock.t);
    ended_by_step = wake == bw.step_since + 5000;
    world.traffic.pump(bw.backend, static_cast<int>(world.load * (wake - world.clock.t) / 1000));
    world.clock.t = wake;
  }
  CHECK(ended_by_step);
  CHECK(world.at("bw").step == 1);
  // A paused region waits for a command, not for time.
  world.records.queue.push_back({1, "r1", "bw", "pause", "operator:alice"});
  CHECK(wake_after_tick() == Engine::kNever);
}

TEST_CASE("ticks only when the engine asks: same rollout, a failure still caught in time",
          "[rollout]") {
  World world({region("bw", 1), region("by", 2)});
  world.serving("bw");
  world.serving("by");
  SleepyLoop loop{world};
  SECTION("the rollout goes through every step, in far fewer ticks than every 100 ms") {
    world.rollout = start_with_interval(world, 1000);
    for (int i = 0; i < 2000 && !terminal(world.rollout.state); ++i) REQUIRE(loop.tick().ok());
    CHECK(world.rollout.state == RolloutState::succeeded);
    // Every step and the bake were gone through (states a tick passes through at once
    // are not seen here).
    std::vector<std::string> tail = {"verifying", "shifting:0", "shifting:1", "shifting:2",
                                     "baking",    "finalizing", "succeeded"};
    for (const auto* name : {"bw", "by"}) {
      const auto& seen = world.visited[name];
      REQUIRE(seen.size() >= tail.size());
      CHECK(std::vector<std::string>(seen.end() - static_cast<long>(tail.size()), seen.end()) ==
            tail);
    }
    CHECK(world.fleet.leaked().empty());
    // Two regions, each about 30 s of steps and bake at one check a second: a loop
    // turning every 100 ms would have ticked about 600 times.
    CHECK(loop.ticks < 200);
  }
  SECTION("a server failing in a step is caught at its next check, one interval later") {
    world.rollout = start_with_interval(world, 2000);
    bool failing = false;
    Millis failed_at = 0;
    world.agents.healthy = [&](const std::string& server, int) {
      return !(failing && server == "bw-r1-0");
    };
    for (int i = 0; i < 2000 && world.at("bw").state != RegionState::rolled_back; ++i) {
      if (!failing && world.at("bw").state == RegionState::shifting && world.at("bw").step == 1) {
        failing = true;
        failed_at = world.clock.t;
      }
      if (failing && world.at("bw").state == RegionState::rolling_back) break;
      REQUIRE(loop.tick().ok());
    }
    REQUIRE(failing);
    CHECK(world.at("bw").state != RegionState::shifting);
    CHECK(world.clock.t - failed_at <= 2000 + 100);  // one interval (and one turn of the loop)
  }
}
