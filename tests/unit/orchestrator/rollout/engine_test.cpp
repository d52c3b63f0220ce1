// The rollout engine against in-memory fakes: the path of a region, and what each fault
// leads to. Every case also checks that no server leaks and where the traffic ends up.
#include <catch2/catch.hpp>

#include "tests/unit/orchestrator/rollout/world.hpp"

using namespace fakes;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the transition tables refuse what is not in them", "[rollout]") {
  CHECK(allowed(RegionState::pending, RegionState::awaiting_approval));
  CHECK(allowed(RegionState::shifting, RegionState::shifting));
  CHECK_FALSE(allowed(RegionState::pending, RegionState::succeeded));
  CHECK_FALSE(allowed(RegionState::verifying, RegionState::baking));
  CHECK_FALSE(allowed(RegionState::finalizing, RegionState::rolling_back));
  for (int to = 0; to <= static_cast<int>(RegionState::aborted); ++to) {
    CHECK_FALSE(allowed(RegionState::succeeded, static_cast<RegionState>(to)));
    CHECK_FALSE(allowed(RegionState::rolled_back, static_cast<RegionState>(to)));
  }
  CHECK_FALSE(allowed(RolloutState::succeeded, RolloutState::running));
  RegionRun run;
  run.region = "bw";
  auto refused = transition(run, RegionState::baking, 5);
  REQUIRE_FALSE(refused.ok());
  CHECK(contains(refused.error().to_string(), "no transition from pending to baking"));
  CHECK(run.state == RegionState::pending);
}

TEST_CASE("a first deployment into an empty region goes to 100% after the health gate",
          "[rollout]") {
  World world({region("bw", 1)});
  world.start();
  world.run();
  CHECK(world.rollout.state == RolloutState::succeeded);
  CHECK(world.visited["bw"] == std::vector<std::string>{"provisioning", "staging", "verifying",
                                                        "shifting:0", "baking", "finalizing",
                                                        "succeeded"});
  CHECK(world.traffic.percent_on("app_bw", "-r1-") == 100);
  CHECK(world.fleet.serving_by_region["bw"].size() == 2);
  CHECK(world.fleet.leaked().empty());
  CHECK(world.at("bw").first_deployment);
}

TEST_CASE("a release replaces the old servers through the canary steps", "[rollout]") {
  World world({region("bw", 1, 3)});
  world.serving("bw");
  world.start();
  world.run();
  REQUIRE(world.rollout.state == RolloutState::succeeded);
  CHECK(world.visited["bw"] == std::vector<std::string>{"provisioning", "staging", "verifying",
                                                        "shifting:0", "shifting:1", "shifting:2",
                                                        "baking", "finalizing", "succeeded"});
  // The weights of each step, as HAProxy was told.
  std::vector<std::string> applies;
  for (const auto& line : world.traffic.log) {
    if (line.rfind("apply", 0) == 0) applies.push_back(line);
  }
  REQUIRE(applies.size() >= 4);  // the steady state, then 10%, 50%, 100%
  // 10%: 3 x 19 against 2 x 256 is 10.0% of the weight on the new servers.
  CHECK(applies[1] == "apply app_bw bw-r0-0=256 bw-r0-1=256 bw-r1-0=19 bw-r1-1=19 bw-r1-2=19");
  CHECK(applies[3] == "apply app_bw bw-r0-0=0 bw-r0-1=0 bw-r1-0=256 bw-r1-1=256 bw-r1-2=256");
  // The old servers were drained out of the backend and decommissioned.
  CHECK(world.traffic.backends["app_bw"].size() == 3);
  CHECK(world.fleet.decommissioned == std::set<std::string>{"bw-r0-0", "bw-r0-1"});
  // Their agents wiped them first (service, releases, keys), then the provider deleted them.
  CHECK(world.agents.decommissioned == world.fleet.decommissioned);
  CHECK(world.fleet.serving_by_region["bw"].size() == 3);
  CHECK(world.fleet.leaked().empty());
  CHECK(world.at("bw").analysis.value("outcome", "") == "pass");
}

TEST_CASE("an emergency release takes shorter waits, not fewer checks", "[rollout]") {
  World routine({region("bw", 1)}), emergency({region("bw", 1)});
  routine.serving("bw");
  emergency.serving("bw");
  routine.start();
  emergency.start({}, "emergency");
  routine.run();
  emergency.run();
  REQUIRE(routine.rollout.state == RolloutState::succeeded);
  REQUIRE(emergency.rollout.state == RolloutState::succeeded);
  CHECK(emergency.visited["bw"] == routine.visited["bw"]);
  CHECK(emergency.clock.t < routine.clock.t);
  // The same gate and an analysis after each of the three steps.
  auto count = [](const World& w, const std::string& prefix) {
    int n = 0;
    for (const auto& line : w.records.audit_log) n += line.find(prefix) != std::string::npos;
    return n;
  };
  CHECK(count(emergency, "health gate passed: 3 checks in a row") == 1);
  CHECK(count(routine, "health gate passed: 3 checks in a row") == 1);
  CHECK(count(emergency, "analysis at") == 3);
  CHECK(count(routine, "analysis at") == 3);
}

struct Fault {
  const char* name;
  std::function<void(World&)> arrange;  // before the rollout starts
  std::function<void(World&)> during;   // after each tick
  const char* reason;                   // part of the recorded reason
};

TEST_CASE("faults roll the region back: old servers get their traffic back, nothing leaks",
          "[rollout]") {
  std::vector<Fault> faults = {
      {"provisioning fails", [](World& w) { w.fleet.fail_provision = true; }, nullptr,
       "provisioning failed: the cloud said no"},
      {"the agents never enroll", [](World& w) { w.fleet.never_enroll = true; }, nullptr,
       "2 of 2 servers did not enroll within 30s (bw-r1-0, bw-r1-1)"},
      {"one agent dies while staging", nullptr,
       [](World& w) {
         if (w.at("bw").state == RegionState::staging) w.agents.dead.insert("bw-r1-1");
       },
       "1 of 2 servers did not stage the release within 30s"},
      {"the agent refuses the release", [](World& w) { w.agents.stage_fails.insert("bw-r1-0"); },
       nullptr, "bw-r1-0: staging failed: targets: signature threshold not met"},
      {"the service never becomes healthy",
       [](World& w) { w.agents.healthy = [](const std::string&, int) { return false; }; }, nullptr,
       "health gate: not 3 passing checks in a row within 30s"},
      {"health flaps during the gate",
       [](World& w) {
         w.agents.healthy = [](const std::string& name, int n) {
           return name != "bw-r1-1" || n != 2;
         };
       },
       nullptr, "bw-r1-1 failed its health check after passing"},
      {"a new server fails during the traffic steps",
       [](World& w) {
         w.agents.healthy = [](const std::string& name, int n) {
           return name != "bw-r1-0" || n < 6;
         };
       },
       nullptr, "bw-r1-0 failed its health check after passing"},
      {"the new servers answer 5xx", [](World& w) { w.traffic.error_percent_fresh = 20; }, nullptr,
       "analysis at 10%: "},
      {"too little traffic to judge", [](World& w) { w.load = 20; }, nullptr,
       "step 10% timed out: analysis inconclusive"},
  };
  for (const auto& fault : faults) {
    SECTION(fault.name) {
      World world({region("bw", 1)});
      world.serving("bw");
      if (fault.arrange) fault.arrange(world);
      world.start();
      for (int i = 0; i < 600 && !terminal(world.rollout.state); ++i) {
        REQUIRE(world.tick().ok());
        if (fault.during) fault.during(world);
      }
      INFO(world.at("bw").reason);
      CHECK(world.rollout.state == RolloutState::rolled_back);
      CHECK(world.at("bw").state == RegionState::rolled_back);
      CHECK(contains(world.at("bw").reason, fault.reason));
      CHECK(world.traffic.percent_on("app_bw", "-r0-") == 100);
      CHECK(world.traffic.backends["app_bw"].size() == 2);
      CHECK(world.fleet.serving_by_region["bw"][0].name == "bw-r0-0");
      CHECK(world.fleet.decommissioned.count("bw-r1-0") == 1);
      CHECK(world.fleet.decommissioned.count("bw-r1-1") == 1);
      for (const auto& name : world.fleet.decommissioned) {
        // A new server that got as far as an agent was wiped through it before it went.
        if (!world.fleet.created[name].agent.empty()) {
          CHECK(world.agents.decommissioned.count(name) == 1);
        }
      }
      CHECK(world.fleet.leaked().empty());
    }
  }
}

TEST_CASE("traffic goes back to the old servers in the tick that decides to roll back",
          "[rollout]") {
  World world({region("bw", 1)});
  world.serving("bw");
  world.start();
  while (world.at("bw").state != RegionState::shifting || world.at("bw").step != 1) {
    REQUIRE(world.tick().ok());
  }
  REQUIRE(world.tick().ok());  // the step's weights go out on the tick after the analysis
  CHECK(world.traffic.percent_on("app_bw", "-r1-") >= 49);
  world.traffic.error_percent_fresh = 50;
  while (world.at("bw").state == RegionState::shifting) REQUIRE(world.tick().ok());
  // The same tick: the weights are back and the new servers are out of the backend.
  CHECK(world.traffic.percent_on("app_bw", "-r0-") == 100);
  CHECK(world.traffic.backends["app_bw"].count("bw-r1-0") == 0);
}

TEST_CASE("an agent that dies after the bake's last check: rolled back before retiring",
          "[rollout]") {
  World world({region("bw", 1)});
  world.serving("bw");
  world.start();
  while (world.at("bw").state != RegionState::baking) REQUIRE(world.tick().ok());
  // Checks every 30 s from now on: none falls within the 10 s bake.
  world.rollout.release["health"]["interval_ms"] = 30'000;
  world.agents.dead.insert("bw-r1-1");
  world.run();
  CHECK(world.at("bw").state == RegionState::rolled_back);
  CHECK(contains(world.at("bw").reason, "bw-r1-1 failed its health check"));
  CHECK(world.traffic.percent_on("app_bw", "-r0-") == 100);
  CHECK(world.fleet.leaked().empty());
}

TEST_CASE("HAProxy unreachable for a moment while shifting: the step is retried", "[rollout]") {
  World world({region("bw", 1)});
  world.serving("bw");
  world.start();
  while (world.at("bw").state != RegionState::shifting) REQUIRE(world.tick().ok());
  world.traffic.unreachable = true;  // killed; the controller starts it again
  for (int i = 0; i < 5; ++i) REQUIRE(world.tick().ok());
  CHECK(world.at("bw").state == RegionState::shifting);
  CHECK(contains(world.at("bw").retry, "haproxy: connection refused"));
  world.traffic.unreachable = false;
  world.run();
  CHECK(world.rollout.state == RolloutState::succeeded);
  CHECK(world.traffic.percent_on("app_bw", "-r1-") == 100);
  CHECK(world.fleet.leaked().empty());
}

TEST_CASE(
    "HAProxy unreachable past the grace: rolled back, the rollback retried until it is "
    "back",
    "[rollout]") {
  World world({region("bw", 1)});
  world.serving("bw");
  world.start();
  while (world.at("bw").state != RegionState::shifting) REQUIRE(world.tick().ok());
  world.traffic.unreachable = true;
  for (int i = 0; i < 20; ++i) REQUIRE(world.tick().ok());
  CHECK(world.at("bw").state == RegionState::rolling_back);
  CHECK(contains(world.at("bw").reason, "haproxy: connection refused (for 1"));
  CHECK(contains(world.at("bw").retry, "restore"));
  world.traffic.unreachable = false;
  world.run();
  CHECK(world.at("bw").state == RegionState::rolled_back);
  CHECK(world.traffic.percent_on("app_bw", "-r0-") == 100);
  CHECK(world.fleet.leaked().empty());
  // Retried every tick, audited once while shifting and once while restoring.
  int retries = 0;
  for (const auto& line : world.records.audit_log) retries += line.rfind("rollout.retry", 0) == 0;
  CHECK(retries == 2);
}

TEST_CASE("the clock jumps: a step waits again, and never judges on too few requests",
          "[rollout]") {
  World world({region("bw", 1)});
  world.serving("bw");
  world.start();
  while (world.at("bw").state != RegionState::shifting) REQUIRE(world.tick().ok());
  world.clock.t -= 3'600'000;  // an hour back
  REQUIRE(world.tick().ok());
  CHECK(world.at("bw").state == RegionState::shifting);
  CHECK(world.at("bw").step == 0);
  world.load = 0;
  world.clock.t += 7'200'000;  // two hours ahead: the wait is over, but nothing was served
  REQUIRE(world.tick().ok());
  // Not a pass: the step is judged inconclusive and, its time being up, fails closed.
  CHECK(world.at("bw").analysis.value("outcome", "") == "inconclusive");
  CHECK(world.at("bw").state == RegionState::rolled_back);
  CHECK(contains(world.at("bw").reason, "step 10% timed out: analysis inconclusive"));
  CHECK(world.traffic.percent_on("app_bw", "-r0-") == 100);
}

TEST_CASE("each traffic step is its percentage of the weight, however many servers", "[rollout]") {
  for (int servers : {1, 2, 7, 100}) {
    World world({region("bw", 1, servers)});
    world.load = 1000 * servers;  // every server gets requests, even at 10%
    world.serving("bw", servers);
    world.start();
    std::map<int, int> seen;  // step -> percent of the weight on the new servers at its end
    for (int i = 0; i < 300 && !terminal(world.rollout.state); ++i) {
      REQUIRE(world.tick().ok());
      const auto& run = world.at("bw");
      if (run.state == RegionState::shifting) {
        int total = 0, fresh = 0;
        for (const auto& [name, c] : world.traffic.backends["app_bw"]) {
          total += c.weight;
          if (name.find("-r1-") != std::string::npos) fresh += c.weight;
        }
        seen[run.step] = total == 0 ? 0 : (fresh * 1000 / total + 5) / 10;
      }
    }
    INFO(servers << " servers");
    CHECK(world.rollout.state == RolloutState::succeeded);
    CHECK(seen[0] == 10);
    CHECK(seen[1] == 50);
    CHECK(seen[2] == 100);
  }
}
