// Views of a parsed policy: lookup, waves, and the JSON behind `patchwave fleet show`.
#include <cstdio>
#include <set>

#include "orchestrator/fleet/policy.hpp"

namespace pw::fleet {
namespace {

std::string time_of_day(int minute) {
  char text[8];
  std::snprintf(text, sizeof text, "%02d:%02d", (minute / 60) % 100, minute % 60);
  return text;
}

json::Value timing_json(const Timing& timing) {
  return json::Value{{"canary_steps", timing.canary_steps},
                     {"health_successes", timing.health_successes},
                     {"step_wait_seconds", timing.step_wait.count()},
                     {"bake_time_seconds", timing.bake_time.count()},
                     {"max_error_rate", timing.max_error_rate}};
}

json::Value region_json(const Region& region) {
  json::Value provider = {{"kind", region.provider.kind}, {"params", region.provider.params}};
  if (region.provider.kind == "script") {
    provider["command"] = region.provider.command;
    provider["timeout_seconds"] = region.provider.timeout.count();
  }
  json::Value keys = json::Value::array();
  for (const auto& key : region.approvers.keys) {
    json::Value entry = key.to_json();
    entry["keyid"] = key.keyid();
    keys.push_back(std::move(entry));
  }
  json::Value windows = json::Value::array();
  for (const auto& window : region.windows) {
    json::Value days = json::Value::array();
    for (int day : window.days) days.push_back(day_name(day));
    windows.push_back({{"days", days},
                       {"start", time_of_day(window.start_minute)},
                       {"end", time_of_day(window.end_minute)},
                       {"timezone", window.timezone}});
  }
  json::Value emergency = timing_json(region.emergency_timing);
  emergency["skip_windows"] = region.emergency_skips_windows;
  return json::Value{
      {"name", region.name},
      {"display_name", region.display_name},
      {"wave", region.wave},
      {"provider", provider},
      {"servers", region.servers},
      {"backend", region.backend},
      {"approvers", {{"threshold", region.approvers.threshold}, {"keys", keys}}},
      {"windows", windows},
      {"timing", timing_json(region.timing)},
      {"emergency", emergency},
      {"failure_policy", region.failure_policy},
  };
}

}  // namespace

const Region* Policy::find(std::string_view name) const {
  for (const auto& region : regions) {
    if (region.name == name) return &region;
  }
  return nullptr;
}

std::vector<std::vector<const Region*>> Policy::waves() const {
  std::set<int> numbers;
  for (const auto& region : regions) numbers.insert(region.wave);
  std::vector<std::vector<const Region*>> out;
  for (int wave : numbers) {
    auto& group = out.emplace_back();
    for (const auto& region : regions) {
      if (region.wave == wave) group.push_back(&region);
    }
  }
  return out;
}

json::Value Policy::to_json() const {
  json::Value list = json::Value::array();
  for (const auto& region : regions) list.push_back(region_json(region));
  return json::Value{{"version", version}, {"regions", list}};
}

const char* day_name(int day) {
  static const char* const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  return day >= 0 && day < 7 ? names[day] : "?";
}

std::string format_duration(std::chrono::seconds duration) {
  long long s = duration.count();
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace pw::fleet
