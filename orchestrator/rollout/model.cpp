#include "orchestrator/rollout/model.hpp"

#include <array>
#include <utility>

namespace pw::rollout {
namespace {

using R = RegionState;
using O = RolloutState;

constexpr std::array<const char*, 14> kRegionNames = {"pending",      "awaiting_approval",
                                                      "provisioning", "staging",
                                                      "verifying",    "shifting",
                                                      "baking",       "finalizing",
                                                      "succeeded",    "rolling_back",
                                                      "rolled_back",  "aborted",
                                                      "rejected",     "expired"};
constexpr std::array<const char*, 6> kRolloutNames = {
    "pending", "running", "succeeded", "partially_failed", "rolled_back", "aborted"};

// The region's transition table. Rolling back is possible from every state that may
// have created servers or moved traffic; `shifting -> shifting` is the next step.
constexpr std::pair<R, R> kRegionTable[] = {
    {R::pending, R::awaiting_approval},
    {R::pending, R::aborted},
    {R::awaiting_approval, R::provisioning},
    {R::awaiting_approval, R::aborted},
    {R::awaiting_approval, R::rejected},
    {R::awaiting_approval, R::expired},
    {R::provisioning, R::staging},
    {R::provisioning, R::rolling_back},
    {R::staging, R::verifying},
    {R::staging, R::rolling_back},
    {R::verifying, R::shifting},
    {R::verifying, R::rolling_back},
    {R::shifting, R::shifting},
    {R::shifting, R::baking},
    {R::shifting, R::rolling_back},
    {R::baking, R::finalizing},
    {R::baking, R::rolling_back},
    {R::finalizing, R::succeeded},
    {R::rolling_back, R::rolled_back},
    {R::rolling_back, R::aborted},
};

constexpr std::pair<O, O> kRolloutTable[] = {
    {O::pending, O::running},          {O::pending, O::aborted},     {O::running, O::succeeded},
    {O::running, O::partially_failed}, {O::running, O::rolled_back}, {O::running, O::aborted},
};

template <typename E, std::size_t N>
Result<E> parse_name(std::string_view text, const std::array<const char*, N>& names,
                     const char* what) {
  for (std::size_t i = 0; i < N; ++i) {
    if (text == names[i]) return static_cast<E>(i);
  }
  return make_error(Errc::parse, std::string(what) + " '" + std::string(text) + "' is not known");
}

json::Value servers_json(const std::vector<ServerRef>& servers) {
  json::Value out = json::Value::array();
  for (const auto& s : servers) {
    out.push_back({{"name", s.name}, {"agent", s.agent}, {"service", s.service}});
  }
  return out;
}

std::vector<ServerRef> servers_from(const json::Value& value) {
  std::vector<ServerRef> out;
  if (!value.is_array()) return out;
  for (const auto& s : value) {
    out.push_back({s.value("name", ""), s.value("agent", ""), s.value("service", "")});
  }
  return out;
}

}  // namespace

const char* name(RegionState state) { return kRegionNames.at(static_cast<std::size_t>(state)); }
const char* name(RolloutState state) { return kRolloutNames.at(static_cast<std::size_t>(state)); }

Result<RegionState> parse_region_state(std::string_view text) {
  return parse_name<RegionState>(text, kRegionNames, "region state");
}
Result<RolloutState> parse_rollout_state(std::string_view text) {
  return parse_name<RolloutState>(text, kRolloutNames, "rollout state");
}

bool terminal(RegionState state) {
  return state == R::succeeded || state == R::rolled_back || state == R::aborted ||
         state == R::rejected || state == R::expired;
}
bool terminal(RolloutState state) { return state != O::pending && state != O::running; }

bool allowed(RegionState from, RegionState to) {
  for (const auto& [a, b] : kRegionTable) {
    if (a == from && b == to) return true;
  }
  return false;
}
bool allowed(RolloutState from, RolloutState to) {
  for (const auto& [a, b] : kRolloutTable) {
    if (a == from && b == to) return true;
  }
  return false;
}

Status transition(RegionRun& run, RegionState to, Millis now) {
  if (!allowed(run.state, to)) {
    return make_error(Errc::conflict, "region " + run.region + ": no transition from " +
                                          name(run.state) + " to " + name(to));
  }
  run.state = to;
  run.state_since = now;
  run.action.clear();
  run.retry.clear();
  run.retry_since = 0;
  return Ok{};
}

Status transition(Rollout& rollout, RolloutState to) {
  if (!allowed(rollout.state, to)) {
    return make_error(Errc::conflict, "rollout " + rollout.id + ": no transition from " +
                                          name(rollout.state) + " to " + name(to));
  }
  rollout.state = to;
  return Ok{};
}

json::Value RegionRun::to_json() const {
  return {{"region", region},
          {"wave", wave},
          {"backend", backend},
          {"count", count},
          {"state", name(state)},
          {"paused", paused},
          {"action", action},
          {"state_since", state_since},
          {"step_since", step_since},
          {"step", step},
          {"fresh", servers_json(fresh)},
          {"previous", servers_json(previous)},
          {"health_streak", health_streak},
          {"healthy_once", healthy_once},
          {"last_health", last_health},
          {"baseline", baseline},
          {"analysis", analysis},
          {"reason", reason},
          {"rollback_to", name(rollback_to)},
          {"first_deployment", first_deployment},
          {"retry", retry},
          {"retry_since", retry_since},
          {"gate", gate}};
}

Result<RegionRun> RegionRun::from_json(const json::Value& value) {
  if (!value.is_object()) return make_error(Errc::parse, "region run: expected an object");
  RegionRun run;
  try {
    run.region = value.at("region").get<std::string>();
    run.wave = value.at("wave").get<int>();
    run.backend = value.at("backend").get<std::string>();
    run.count = value.at("count").get<int>();
    PW_TRY_ASSIGN(run.state, parse_region_state(value.at("state").get<std::string>()));
    run.paused = value.value("paused", false);
    run.action = value.value("action", "");
    run.state_since = value.value("state_since", Millis{0});
    run.step_since = value.value("step_since", Millis{0});
    run.step = value.value("step", 0);
    run.fresh = servers_from(value.value("fresh", json::Value::array()));
    run.previous = servers_from(value.value("previous", json::Value::array()));
    run.health_streak =
        value.value("health_streak", json::Value::object()).get<std::map<std::string, int>>();
    run.healthy_once =
        value.value("healthy_once", json::Value::object()).get<std::map<std::string, bool>>();
    run.last_health = value.value("last_health", Millis{0});
    run.baseline = value.value("baseline", json::Value::array());
    run.analysis = value.value("analysis", json::Value::object());
    run.reason = value.value("reason", "");
    PW_TRY_ASSIGN(run.rollback_to,
                  parse_region_state(value.value("rollback_to", std::string("rolled_back"))));
    run.first_deployment = value.value("first_deployment", false);
    run.retry = value.value("retry", "");
    run.retry_since = value.value("retry_since", Millis{0});
    run.gate = value.value("gate", json::Value::object());
  } catch (const std::exception& e) {
    return make_error(Errc::parse, std::string("region run: ") + e.what());
  }
  return run;
}

RegionRun* Rollout::find(std::string_view region) {
  for (auto& run : regions) {
    if (run.region == region) return &run;
  }
  return nullptr;
}

json::Value Rollout::to_json() const {
  json::Value regions_summary = json::Value::object();
  for (const auto& run : regions) regions_summary[run.region] = name(run.state);
  return {{"id", id},
          {"app", app},
          {"version", version},
          {"target", target},
          {"sha256", sha256},
          {"urgency", urgency},
          {"state", name(state)},
          {"created_at", created_at},
          {"emergency", emergency},
          {"regions", regions_summary}};
}

json::Value Rollout::detail_json() const {
  json::Value out = to_json();
  out["release"] = release;
  json::Value list = json::Value::array();
  for (const auto& run : regions) list.push_back(run.to_json());
  out["regions"] = list;
  return out;
}

Result<Rollout> Rollout::from_json(const json::Value& detail) {
  Rollout rollout;
  try {
    rollout.id = detail.at("id").get<std::string>();
    rollout.app = detail.at("app").get<std::string>();
    rollout.version = detail.at("version").get<std::string>();
    rollout.target = detail.at("target").get<std::string>();
    rollout.sha256 = detail.at("sha256").get<std::string>();
    rollout.urgency = detail.at("urgency").get<std::string>();
    PW_TRY_ASSIGN(rollout.state, parse_rollout_state(detail.at("state").get<std::string>()));
    rollout.created_at = detail.at("created_at").get<Millis>();
    rollout.release = detail.at("release");
    rollout.emergency = detail.value("emergency", json::Value());
    for (const auto& region : detail.at("regions")) {
      PW_TRY_ASSIGN(RegionRun run, RegionRun::from_json(region));
      rollout.regions.push_back(std::move(run));
    }
  } catch (const std::exception& e) {
    return make_error(Errc::parse, "rollout record: " + std::string(e.what()));
  }
  return rollout;
}

}  // namespace pw::rollout
