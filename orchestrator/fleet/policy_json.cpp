// Views of a parsed policy: lookup, waves, the JSON behind `patchwave fleet show` and the
// windows as one line for status displays.
#include <algorithm>
#include <array>
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

// {threshold, keys}, each key in TUF's format with its keyid.
json::Value approvers_json(const Approvers& approvers) {
  json::Value keys = json::Value::array();
  for (const auto& key : approvers.keys) {
    json::Value entry = key.to_json();
    entry["keyid"] = key.keyid();
    keys.push_back(std::move(entry));
  }
  return json::Value{{"threshold", approvers.threshold}, {"keys", keys}};
}

json::Value region_json(const Region& region) {
  json::Value provider = {{"kind", region.provider.kind}, {"params", region.provider.params}};
  if (region.provider.kind == "script") {
    provider["command"] = region.provider.command;
    provider["timeout_seconds"] = region.provider.timeout.count();
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
  emergency["approvals"] = region.emergency_approvals;
  return json::Value{
      {"name", region.name},
      {"display_name", region.display_name},
      {"wave", region.wave},
      {"provider", provider},
      {"servers", region.servers},
      {"backend", region.backend},
      {"approvers", approvers_json(region.approvers)},
      {"approval_timeout_seconds", region.approval_timeout.count()},
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
  return json::Value{
      {"version", version},
      {"security_officers", security_officers ? approvers_json(*security_officers) : nullptr},
      {"emergency_waves", emergency_single_wave ? "single" : "policy"},
      {"regions", list}};
}

std::string describe_windows(const Region& region) {
  if (region.windows.empty()) return "any time";
  std::string out;
  for (const auto& window : region.windows) {
    if (!out.empty()) out += "; ";
    std::array<bool, 7> open{};
    for (int day : window.days) {
      if (day >= 0 && day < 7) open[static_cast<std::size_t>(day)] = true;
    }
    auto is_open = [&](int day) { return open[static_cast<std::size_t>((day + 7) % 7)]; };
    int count = static_cast<int>(std::count(open.begin(), open.end(), true));
    std::string days;
    if (count == 7) {
      days = "daily";
    } else if (count == 0) {
      days = "never";
    } else {
      // Start at a day that begins a run, so a run across Sunday stays one ("fri-mon").
      int first = 0;
      while (!is_open(first) || is_open(first - 1)) ++first;
      for (int i = 0; i < 7; ++i) {
        int day = first + i;
        if (!is_open(day) || is_open(day - 1)) continue;  // not the start of a run
        int last = day;
        while (is_open(last + 1)) ++last;
        if (!days.empty()) days += ",";
        days += day_name(day % 7);
        if (last != day) days += std::string("-") + day_name(last % 7);
      }
    }
    out += days + " " + time_of_day(window.start_minute) + "-" + time_of_day(window.end_minute) +
           " " + window.timezone;
  }
  return out;
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
