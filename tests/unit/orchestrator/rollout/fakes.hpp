// In-memory stand-ins for the rollout engine's ports: a world of servers, agents and an
// HAProxy backend that the tests drive tick by tick, with faults switched on per case.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/rollout/engine.hpp"

namespace fakes {

using namespace pw::rollout;
using pw::Errc;
using pw::make_error;
using pw::Ok;
using pw::Result;
using pw::Status;

struct FakeClock : Clock {
  Millis t = 1'000'000;
  Millis now() override { return t; }
};

struct FakeFleet : Fleet {
  std::map<std::string, std::vector<ServerRef>> serving_by_region;
  std::map<std::string, ServerRef> created;  // every server ever provisioned
  std::set<std::string> enrolled_names, decommissioned;
  bool fail_provision = false, never_enroll = false;
  int provision_calls = 0;

  Result<std::vector<ServerRef>> serving(const std::string& region) override {
    return serving_by_region[region];
  }
  Result<std::vector<ServerRef>> provision(const std::string& region, const std::string& id,
                                           int count) override {
    ++provision_calls;
    if (fail_provision) return make_error(Errc::io, "the cloud said no");
    std::vector<ServerRef> out;
    for (int i = 0; i < count; ++i) {
      std::string name = region + "-" + id + "-" + std::to_string(i);
      if (!created.count(name)) {
        created[name] = {name, "127.9." + std::to_string(created.size()) + ".1:7443", ""};
      }
      if (!never_enroll) enrolled_names.insert(name);
      out.push_back(created[name]);
    }
    return out;
  }
  Result<bool> enrolled(const std::string& name) override { return enrolled_names.count(name) > 0; }
  Status decommission(const std::string&, const ServerRef& server) override {
    decommissioned.insert(server.name);
    return Ok{};
  }
  Status promote(const std::string& region, const std::vector<ServerRef>& fresh,
                 const std::vector<ServerRef>&) override {
    serving_by_region[region] = fresh;
    return Ok{};
  }
  // Servers that were created and are neither serving nor decommissioned.
  std::vector<std::string> leaked() const {
    std::vector<std::string> out;
    for (const auto& [name, ref] : created) {
      bool serving = false;
      for (const auto& [region, list] : serving_by_region) {
        for (const auto& s : list) serving |= s.name == name;
      }
      if (!serving && !decommissioned.count(name)) out.push_back(name);
    }
    return out;
  }
};

struct FakeAgents : Agents {
  std::map<std::string, int> stage_calls;
  std::set<std::string> dead;          // unreachable agents
  std::set<std::string> stage_fails;   // agents whose staging fails verification
  std::set<std::string> start_fails;   // agents whose service exits at once
  std::map<std::string, int> started;  // server -> start calls
  std::set<std::string> decommissioned;
  // (server, nth check of that server) -> healthy
  std::function<bool(const std::string&, int)> healthy = [](const std::string&, int) {
    return true;
  };
  std::map<std::string, int> health_calls;
  std::mutex mutex;  // the engine calls a region's agents in parallel

  Result<StageReport> stage(const ServerRef& s, const std::string&) override {
    std::lock_guard lock(mutex);
    if (dead.count(s.name)) return make_error(Errc::io, "connection refused");
    if (stage_fails.count(s.name)) {
      return StageReport{StageState::failed, "targets: signature threshold not met"};
    }
    int n = ++stage_calls[s.name];
    return StageReport{n >= 2 ? StageState::staged : StageState::staging, "downloading"};
  }
  Status start(const ServerRef& s, const std::string&, std::uint16_t) override {
    std::lock_guard lock(mutex);
    if (dead.count(s.name)) return make_error(Errc::io, "connection refused");
    ++started[s.name];
    if (start_fails.count(s.name)) return make_error(Errc::io, "the service exited at once");
    return Ok{};
  }
  Result<HealthReport> health(const ServerRef& s) override {
    std::lock_guard lock(mutex);
    if (dead.count(s.name)) return make_error(Errc::io, "connection refused");
    bool ok = healthy(s.name, ++health_calls[s.name]);
    return HealthReport{ok, ok ? "200" : "503"};
  }
  Status decommission(const ServerRef& s) override {
    std::lock_guard lock(mutex);
    decommissioned.insert(s.name);
    return Ok{};
  }
};

struct FakeProbe : HealthProbe {
  HealthReport probe(const std::string&, const pw::json::Value&) override { return {true, "200"}; }
};

struct ServerCounters {
  int weight = 0;
  std::uint64_t requests = 0, errors = 0, error_hundredths = 0;
};

// One HAProxy backend per region; pump() sends requests by weight.
struct FakeTraffic : Traffic {
  std::map<std::string, std::map<std::string, ServerCounters>> backends;
  bool unreachable = false;
  int error_percent_fresh = 0;   // servers whose name has "-r1-" fail this often
  std::vector<std::string> log;  // "apply bw ..." / "remove bw ..." in order

  Status apply(const std::string& backend, const std::vector<Weight>& weights) override {
    if (unreachable) return make_error(Errc::io, "haproxy: connection refused");
    std::string line = "apply " + backend;
    for (const auto& w : weights) {
      backends[backend][w.server].weight = w.weight;
      line += " " + w.server + "=" + std::to_string(w.weight);
    }
    log.push_back(line);
    return Ok{};
  }
  Status remove(const std::string& backend, const std::vector<std::string>& servers) override {
    if (unreachable) return make_error(Errc::io, "haproxy: connection refused");
    std::string line = "remove " + backend;
    for (const auto& s : servers) {
      backends[backend].erase(s);
      line += " " + s;
    }
    log.push_back(line);
    return Ok{};
  }
  Result<std::vector<pw::traffic::ServerStat>> stats(const std::string& backend) override {
    if (unreachable) return make_error(Errc::io, "haproxy: connection refused");
    std::vector<pw::traffic::ServerStat> out;
    for (const auto& [name, c] : backends[backend]) {
      pw::traffic::ServerStat s;
      s.backend = backend;
      s.server = name;
      s.weight = static_cast<std::uint64_t>(c.weight);
      s.sessions_total = c.requests;
      s.responses_5xx = c.errors;
      s.responses_2xx = c.requests - c.errors;
      s.response_time_ms = 5;
      out.push_back(s);
    }
    return out;
  }
  void pump(const std::string& backend, int requests) {
    auto& servers = backends[backend];
    int total = 0;
    for (const auto& [name, c] : servers) total += c.weight;
    if (total == 0) return;
    for (auto& [name, c] : servers) {
      auto share = static_cast<std::uint64_t>(requests * c.weight / total);
      c.requests += share;
      if (name.find("-r1-") != std::string::npos) {
        c.error_hundredths += share * static_cast<std::uint64_t>(error_percent_fresh);
        c.errors = c.error_hundredths / 100;
      }
    }
  }
  // The share of the backend's weight on servers whose name contains `part`, in percent.
  int percent_on(const std::string& backend, const std::string& part) {
    int total = 0, on = 0;
    for (const auto& [name, c] : backends[backend]) {
      total += c.weight;
      if (name.find(part) != std::string::npos) on += c.weight;
    }
    return total == 0 ? 0 : on * 100 / total;
  }
};

struct FakeRecords : Records {
  std::vector<pw::json::Value> saves;  // every saved record, in order
  std::vector<std::string> audit_log;  // "action outcome"
  std::vector<Command> queue;
  int crash_at_save = 0;  // the Nth save fails as if the process died in it (0: never)

  Status save(const Rollout& rollout) override {
    if (crash_at_save != 0 && static_cast<int>(saves.size()) + 1 == crash_at_save) {
      return make_error(Errc::io, "killed");
    }
    saves.push_back(rollout.detail_json());
    saves.back()["state"] = name(rollout.state);
    return Ok{};
  }
  Status save_audited(const Rollout& rollout, const AuditEntry& event) override {
    PW_TRY(save(rollout));
    return audit(event.actor, event.action, event.inputs, event.outcome);
  }
  Result<std::vector<Command>> commands(const std::string&) override {
    auto out = queue;
    queue.clear();
    return out;
  }
  Status command_done(const Command&, const std::string& outcome) override {
    audit_log.push_back("command " + outcome);
    return Ok{};
  }
  Status audit(const std::string&, const std::string& action, const pw::json::Value&,
               const std::string& outcome) override {
    audit_log.push_back(action + " " + outcome);
    return Ok{};
  }
  std::map<std::string, std::vector<std::string>> documents;  // region -> approvals
  std::vector<std::string> notified;                          // "event text"
  Result<std::vector<std::string>> approvals(const std::string&,
                                             const std::string& region) override {
    return documents[region];
  }
  Status notify(const std::string& event, const pw::json::Value&,
                const std::string& text) override {
    notified.push_back(event + " " + text);
    return Ok{};
  }
};

}  // namespace fakes
