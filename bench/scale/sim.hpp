// A simulated fleet for the scale benchmark: the rollout engine's ports other than
// Records (which is the controller's real StoreRecords on SQLite), holding their state
// in memory and answering at once, so that what is measured is the controller's own
// work. Modelled on tests/unit/orchestrator/rollout/fakes.hpp, without the faults.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/fleet/policy.hpp"
#include "orchestrator/rollout/engine.hpp"

namespace pw::bench {

// Moved by the driver (one tick period per tick), so that configured waits cost ticks,
// not wall time.
struct SimClock final : rollout::Clock {
  rollout::Millis t = 1'800'000'000'000;
  rollout::Millis now() override { return t; }
};

// "10.A.B.C:PORT" for the index-th server of the fleet: unique, never connected to.
inline std::string sim_address(std::size_t index, int port) {
  return "10." + std::to_string((index >> 16) & 0xff) + "." + std::to_string((index >> 8) & 0xff) +
         "." + std::to_string(index & 0xff) + ":" + std::to_string(port);
}

struct SimFleet final : rollout::Fleet {
  std::map<std::string, std::vector<rollout::ServerRef>> serving_by_region;
  std::map<std::string, rollout::ServerRef> created;
  std::set<std::string> decommissioned;
  std::size_t next_index = 0;

  // `count` servers of an earlier release in service in `region`.
  std::vector<rollout::ServerRef> seed(const std::string& region, int count) {
    auto& list = serving_by_region[region];
    for (int i = 0; i < count; ++i) {
      std::string name = region + "-r0-" + std::to_string(i);
      std::size_t index = next_index++;
      list.push_back({name, sim_address(index, 7443), sim_address(index, 8080)});
      created[name] = list.back();
    }
    return list;
  }

  Result<std::vector<rollout::ServerRef>> serving(const std::string& region) override {
    return serving_by_region[region];
  }
  Result<std::vector<rollout::ServerRef>> provision(const std::string& region,
                                                    const std::string& rollout_id,
                                                    int count) override {
    std::vector<rollout::ServerRef> out;
    for (int i = 0; i < count; ++i) {
      std::string name = region + "-" + rollout_id + "-" + std::to_string(i);
      auto found = created.find(name);
      if (found == created.end()) {
        found = created.emplace(name, rollout::ServerRef{name, sim_address(next_index++, 7443), ""})
                    .first;
      }
      out.push_back(found->second);
    }
    return out;
  }
  Result<bool> enrolled(const std::string& name) override { return created.count(name) > 0; }
  Status decommission(const std::string&, const rollout::ServerRef& server) override {
    decommissioned.insert(server.name);
    return Ok{};
  }
  Status promote(const std::string& region, const std::vector<rollout::ServerRef>& fresh,
                 const std::vector<rollout::ServerRef>&) override {
    serving_by_region[region] = fresh;
    return Ok{};
  }
};

// Every agent stages at once and is always healthy. The engine calls a region's agents
// from up to 16 threads at a time; `calls` counts them (one thread each).
struct SimAgents final : rollout::Agents {
  std::mutex mutex;
  std::set<std::string> staged, running;
  std::atomic<std::uint64_t> calls{0};

  Result<rollout::StageReport> stage(const rollout::ServerRef& server,
                                     const std::string&) override {
    ++calls;
    std::lock_guard lock(mutex);
    staged.insert(server.name);
    return rollout::StageReport{rollout::StageState::staged, "staged"};
  }
  Status start(const rollout::ServerRef& server, const std::string&, std::uint16_t) override {
    ++calls;
    std::lock_guard lock(mutex);
    running.insert(server.name);
    return Ok{};
  }
  Result<rollout::HealthReport> health(const rollout::ServerRef&) override {
    ++calls;
    return rollout::HealthReport{true, "200"};
  }
  Status decommission(const rollout::ServerRef& server) override {
    ++calls;
    std::lock_guard lock(mutex);
    running.erase(server.name);
    return Ok{};
  }
};

struct SimProbe final : rollout::HealthProbe {
  std::atomic<std::uint64_t> calls{0};
  rollout::HealthReport probe(const std::string&, const json::Value&) override {
    ++calls;
    return {true, "200"};
  }
};

// One HAProxy backend per region. pump() sends a period's requests by weight: every
// backend gets `per_server` requests per server in it, spread over the servers' weights.
struct SimTraffic final : rollout::Traffic {
  struct Counters {
    int weight = 0;
    std::uint64_t requests = 0;
  };
  std::map<std::string, std::map<std::string, Counters>> backends;

  Status apply(const std::string& backend, const std::vector<rollout::Weight>& weights) override {
    auto& servers = backends[backend];
    for (const auto& w : weights) servers[w.server].weight = w.weight;
    return Ok{};
  }
  Status remove(const std::string& backend, const std::vector<std::string>& names) override {
    auto& servers = backends[backend];
    for (const auto& name : names) servers.erase(name);
    return Ok{};
  }
  Result<std::vector<traffic::ServerStat>> stats(const std::string& backend) override {
    std::vector<traffic::ServerStat> out;
    for (const auto& [name, c] : backends[backend]) {
      traffic::ServerStat s;
      s.backend = backend;
      s.server = name;
      s.status = "UP";
      s.weight = static_cast<std::uint64_t>(c.weight);
      s.sessions_total = c.requests;
      s.responses_2xx = c.requests;
      s.response_time_ms = 5;
      out.push_back(std::move(s));
    }
    return out;
  }
  void pump(std::uint64_t per_server) {
    for (auto& [backend, servers] : backends) {
      std::uint64_t total = 0;
      for (const auto& [name, c] : servers) total += static_cast<std::uint64_t>(c.weight);
      if (total == 0) continue;
      std::uint64_t requests = per_server * servers.size();
      for (auto& [name, c] : servers) {
        c.requests += requests * static_cast<std::uint64_t>(c.weight) / total;
      }
    }
  }
};

// Built in code: the policy parser allows at most 100 servers per region, and 10,000
// servers in 50 regions need 200.
inline fleet::Policy make_policy(int regions, int per_region) {
  fleet::Policy policy;
  for (int i = 0; i < regions; ++i) {
    fleet::Region r;
    char name[16];
    std::snprintf(name, sizeof name, "reg-%02d", i);
    r.name = name;
    r.display_name = name;
    r.wave = 1;
    r.provider.kind = "local";
    r.servers = per_region;
    r.backend = std::string("app_") + name;
    r.timing.canary_steps = {10, 50, 100};
    r.timing.health_successes = 2;
    r.timing.step_wait = std::chrono::seconds(2);
    r.timing.bake_time = std::chrono::seconds(2);
    r.timing.max_error_rate = 1.0;
    r.emergency_timing = r.timing;
    r.failure_policy = "halt";
    r.approvers.threshold = 0;  // opens without approvals
    policy.regions.push_back(std::move(r));
  }
  return policy;
}

inline rollout::ReleaseInfo make_release() {
  rollout::ReleaseInfo info;
  info.app = "demo-service";
  info.version = "1.0.1";
  info.target = "demo-service/1.0.1/demo-service-1.0.1.tar.gz";
  info.sha256 = std::string(64, 'a');
  info.urgency = "routine";
  info.release = {
      {"app", "demo-service"},
      {"version", "1.0.1"},
      {"health", {{"kind", "http"}, {"port", 8080}, {"interval_ms", 1000}, {"successes", 1}}}};
  return info;
}

}  // namespace pw::bench
