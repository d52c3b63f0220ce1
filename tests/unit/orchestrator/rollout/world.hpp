// A rollout engine wired to the fakes, driven one simulated second per tick.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tests/unit/orchestrator/rollout/fakes.hpp"

namespace fakes {

inline pw::fleet::Region region(const std::string& name, int wave, int servers = 2,
                                const std::string& failure_policy = "halt") {
  pw::fleet::Region r;
  r.name = name;
  r.display_name = name;
  r.wave = wave;
  r.provider.kind = "local";
  r.servers = servers;
  r.backend = "app_" + name;
  r.timing.canary_steps = {10, 50, 100};
  r.timing.health_successes = 3;
  r.timing.step_wait = std::chrono::seconds(5);
  r.timing.bake_time = std::chrono::seconds(10);
  r.timing.max_error_rate = 1.0;
  r.emergency_timing = r.timing;
  r.emergency_timing.step_wait = std::chrono::seconds(2);
  r.emergency_timing.bake_time = std::chrono::seconds(3);
  r.failure_policy = failure_policy;
  r.approvers.threshold = 0;  // opens without approvals (gate_test.cpp sets approvers)
  return r;
}

inline ReleaseInfo release(const std::string& urgency = "routine") {
  ReleaseInfo info;
  info.app = "demo-service";
  info.version = "1.0.1";
  info.target = "demo-service/1.0.1/demo-service-1.0.1.tar.gz";
  info.sha256 = std::string(64, 'a');
  info.urgency = urgency;
  info.release = {
      {"app", "demo-service"},
      {"version", "1.0.1"},
      {"health", {{"kind", "http"}, {"port", 8080}, {"interval_ms", 1000}, {"successes", 1}}}};
  return info;
}

inline Options test_options() {
  Options o;
  o.provision_timeout = 30'000;
  o.stage_timeout = 30'000;
  o.verify_timeout = 30'000;
  o.inconclusive_grace = 10'000;
  return o;
}

struct World {
  FakeClock clock;
  FakeFleet fleet;
  FakeAgents agents;
  FakeProbe probe;
  FakeTraffic traffic;
  FakeRecords records;
  pw::fleet::Policy policy;
  std::unique_ptr<Engine> engine;
  Rollout rollout;
  int load = 100;                                           // requests per second and backend
  std::map<std::string, std::vector<std::string>> visited;  // region -> states in order

  explicit World(std::vector<pw::fleet::Region> regions, Options options = test_options()) {
    policy.regions = std::move(regions);
    engine = std::make_unique<Engine>(Ports{&clock, &fleet, &agents, &probe, &traffic, &records},
                                      options);
  }
  // Two servers of an earlier rollout in service in `name`, at full weight.
  void serving(const std::string& name, int count = 2) {
    std::vector<ServerRef> list;
    for (int i = 0; i < count; ++i) {
      std::string server = name + "-r0-" + std::to_string(i);
      list.push_back({server, "127.8." + std::to_string(i) + ".1:7443",
                      "127.8." + std::to_string(i) + ".1:8080"});
      fleet.created[server] = list.back();
    }
    fleet.serving_by_region[name] = list;
    REQUIRE(traffic.apply("app_" + name, engine->steady_weights(list)).ok());
  }
  void start(const std::vector<std::string>& regions = {}, const std::string& urgency = "routine") {
    auto made = engine->create("r1", release(urgency), policy, regions, "operator:test");
    REQUIRE(made.ok());
    rollout = *made;
  }
  void note_states() {
    for (const auto& run : rollout.regions) {
      auto& list = visited[run.region];
      std::string state = name(run.state);
      if (run.state == RegionState::shifting) state += ":" + std::to_string(run.step);
      if (list.empty() || list.back() != state) list.push_back(state);
    }
  }
  // One simulated second: load on every backend, then a tick.
  pw::Status tick() {
    for (const auto& r : policy.regions) traffic.pump(r.backend, load);
    auto status = engine->tick(rollout, policy);
    // Like the controller, the next tick starts from what was saved, not from memory.
    if (status.ok() && !records.saves.empty()) {
      auto saved = Rollout::from_json(records.saves.back());
      REQUIRE(saved.ok());
      rollout = *saved;
    }
    note_states();
    clock.t += 1000;
    return status;
  }
  // Ticks until the rollout is finished (or `limit` ticks).
  void run(int limit = 600) {
    for (int i = 0; i < limit && !terminal(rollout.state); ++i) REQUIRE(tick().ok());
  }
  const RegionRun& at(const std::string& name) {
    auto* run = rollout.find(name);
    REQUIRE(run != nullptr);
    return *run;
  }
};

}  // namespace fakes
