#include "orchestrator/rollout/plan.hpp"

#include <set>
#include <sstream>

namespace pw::rollout {
namespace {

// What opens the region: approvals, window, and what an emergency shortens.
std::string gate_text(const fleet::Region& region, bool emergency) {
  std::size_t needed = region.approvals_needed(emergency);
  std::string text = needed == 0 ? std::string("no approval needed")
                                 : std::to_string(needed) + " of " +
                                       std::to_string(region.approvers.keys.size()) +
                                       " approvers' signatures (request expires after " +
                                       fleet::format_duration(region.approval_timeout) + ")";
  if (emergency && needed < region.approvers.threshold) {
    text += " [emergency: normally " + std::to_string(region.approvers.threshold) + "]";
  }
  if (emergency && region.emergency_skips_windows && !region.windows.empty()) {
    text += "; windows ignored (emergency)";
  } else {
    text += "; window: " + fleet::describe_windows(region);
  }
  return text;
}

}  // namespace

Result<json::Value> plan(const fleet::Policy& policy, const ReleaseInfo& release,
                         const std::vector<std::string>& regions,
                         const std::map<std::string, std::vector<ServerRef>>& serving,
                         const Options& options) {
  std::set<std::string> wanted(regions.begin(), regions.end());
  for (const auto& name : wanted) {
    if (policy.find(name) == nullptr) {
      return make_error(Errc::not_found, "region '" + name + "' is not in the fleet policy");
    }
  }
  bool emergency = release.urgency == "emergency";
  const json::Value& health = release.release.value("health", json::Value::object());
  json::Value waves = json::Value::array();
  auto grouped = policy.waves();
  if (emergency && policy.emergency_single_wave && grouped.size() > 1) {
    std::vector<const fleet::Region*> all;
    for (const auto& wave : grouped) all.insert(all.end(), wave.begin(), wave.end());
    grouped = {all};
  }
  for (const auto& wave : grouped) {
    json::Value entries = json::Value::array();
    for (const fleet::Region* region : wave) {
      if (!wanted.empty() && wanted.count(region->name) == 0) continue;
      const fleet::Timing& timing = emergency ? region->emergency_timing : region->timing;
      auto found = serving.find(region->name);
      json::Value retire = json::Value::array();
      if (found != serving.end()) {
        for (const auto& server : found->second) retire.push_back(server.name);
      }
      json::Value create = json::Value::array();
      for (int i = 0; i < region->servers; ++i) {
        create.push_back(region->name + "-<id>-" + std::to_string(i));
      }
      bool first = retire.empty();
      json::Value steps = json::Value::array();
      if (first) {
        steps.push_back(100);
      } else {
        for (int step : timing.canary_steps) steps.push_back(step);
      }
      std::uint64_t successes = std::max<std::uint64_t>(
          timing.health_successes, health.value("successes", std::uint64_t{1}));
      entries.push_back(
          {{"region", region->name},
           {"display_name", region->display_name},
           {"backend", region->backend},
           {"provider", region->provider.kind},
           {"create", create},
           {"retire", retire},
           {"first_deployment", first},
           {"gate", gate_text(*region, emergency)},
           {"health_gate",
            {{"successes_in_a_row", successes},
             {"interval_ms", health.value("interval_ms", std::uint64_t{1000})},
             {"checked_by", "the agent and the controller"},
             {"timeout_seconds", options.verify_timeout / 1000}}},
           {"traffic_steps", steps},
           {"step_wait_seconds", timing.step_wait.count()},
           {"analysis",
            {{"max_error_rate_points", std::to_string(timing.max_error_rate)},
             {"min_requests", options.min_requests},
             {"max_latency_ratio", std::to_string(options.max_latency_ratio)}}},
           {"bake_time_seconds", first ? 0 : timing.bake_time.count()},
           {"on_failure",
            std::string(first ? "the new servers are drained and decommissioned"
                              : "the old servers get their full weight back at once, then "
                                "the new ones are drained and decommissioned") +
                (region->failure_policy == "continue"
                     ? "; later waves go on (failure_policy: continue)"
                     : "; later waves do not start (failure_policy: halt)")}});
    }
    if (!entries.empty()) waves.push_back({{"wave", wave.front()->wave}, {"regions", entries}});
  }
  if (waves.empty()) {
    return make_error(Errc::invalid_argument, "the fleet policy has no regions to roll out to");
  }
  return json::Value{{"app", release.app},
                     {"version", release.version},
                     {"target", release.target},
                     {"sha256", release.sha256},
                     {"urgency", release.urgency},
                     {"waves", waves},
                     {"max_parallel_regions", options.max_parallel}};
}

std::string render_plan(const json::Value& plan) {
  std::ostringstream out;
  out << "Rollout plan for " << plan.value("app", "") << " " << plan.value("version", "") << " ("
      << plan.value("urgency", "") << ", " << plan.value("target", "") << ")\n"
      << "Nothing has been changed.\n";
  if (plan.contains("emergency_refused")) {
    out << "Not honoured as an emergency: " << plan.value("emergency_refused", "")
        << "\n(shown as it would run with --routine)\n";
  }
  if (plan.contains("emergency") && plan["emergency"].is_object()) {
    out << "Emergency: countersigned by " << plan["emergency"]["countersigned_by"].size()
        << " security officers (" << plan["emergency"].value("threshold", 0) << " needed)\n";
  }
  for (const auto& wave : plan["waves"]) {
    out << "\nWave " << wave.value("wave", 0) << ":\n";
    for (const auto& region : wave["regions"]) {
      out << "  " << region.value("region", "") << " (" << region.value("display_name", "")
          << "), backend " << region.value("backend", "") << ", provider "
          << region.value("provider", "") << "\n";
      out << "    create: " << region["create"].size() << " fresh servers (";
      for (std::size_t i = 0; i < region["create"].size(); ++i) {
        out << (i ? ", " : "") << region["create"][i].get<std::string>();
      }
      out << ")\n    retire: ";
      if (region["retire"].empty()) out << "none (first deployment in this region)";
      for (std::size_t i = 0; i < region["retire"].size(); ++i) {
        out << (i ? ", " : "") << region["retire"][i].get<std::string>();
      }
      const auto& gate = region["health_gate"];
      out << "\n    gate: " << region.value("gate", "")
          << "\n    health: " << gate.value("successes_in_a_row", 0)
          << " passing checks in a row, every " << gate.value("interval_ms", 0) << " ms, by "
          << gate.value("checked_by", "") << "\n    traffic: ";
      for (std::size_t i = 0; i < region["traffic_steps"].size(); ++i) {
        out << (i ? " -> " : "") << region["traffic_steps"][i].get<int>() << "%";
      }
      out << ", " << region.value("step_wait_seconds", 0) << "s analysis after each, bake "
          << region.value("bake_time_seconds", 0)
          << "s\n    on failure: " << region.value("on_failure", "") << "\n";
    }
  }
  return out.str();
}

}  // namespace pw::rollout
