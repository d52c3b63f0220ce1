#include "orchestrator/controller/ui/views.hpp"

#include <algorithm>

#include "orchestrator/controller/ui/fields.hpp"

namespace pw::dashboard {

using namespace fields;

namespace {

bool terminal_state(const std::string& state) {
  return one_of(state, {"succeeded", "rolled_back", "aborted", "rejected", "expired"});
}

// The percent in "shift:N" / "analyse:N", or -1.
int action_percent(const std::string& action) {
  auto colon = action.find(':');
  if (colon == std::string::npos) return -1;
  try {
    return std::stoi(action.substr(colon + 1));
  } catch (const std::exception&) {
    return -1;
  }
}

const json::Value& policy_region(const json::Value& policy, const std::string& name) {
  for (const auto& region : array(policy, "regions")) {
    if (text(region, "name") == name) return region;
  }
  return null_value();
}

const json::Value& timing_of(const json::Value& rollout, const json::Value& region) {
  return text(rollout, "urgency") == "emergency" ? member(region, "emergency")
                                                 : member(region, "timing");
}

std::string waits_for(const json::Value& rollout, const json::Value& run, const json::Value& policy,
                      Millis now) {
  const std::string state = text(run, "state");
  if (member(run, "paused").is_boolean() && run["paused"].get<bool>()) {
    return "an operator to resume it (paused: patchwave rollout resume " + text(rollout, "id") +
           ")";
  }
  const std::string action = text(run, "action");
  const json::Value& region = policy_region(policy, text(run, "region"));
  const json::Value& timing = timing_of(rollout, region);
  std::size_t fresh = array(run, "fresh").size();
  if (!text(run, "retry").empty()) return "a retry of: " + text(run, "retry");
  if (state == "pending") {
    return "its wave (" +
           std::to_string(member(run, "wave").is_number() ? run["wave"].get<int>() : 1) +
           ") to start";
  }
  if (state == "awaiting_approval") {
    const json::Value& gate = member(run, "gate");
    std::string waiting = text(gate, "waiting_for");
    if (waiting == "window") {
      Millis opens = millis(gate, "window_opens_at");
      return "its maintenance window (" + text(gate, "window") + ")" +
             (opens > now ? ", opens in " + format_duration(opens - now) : "");
    }
    int needed = member(gate, "needed").is_number() ? gate["needed"].get<int>() : 0;
    auto have = static_cast<int>(array(gate, "approved_by").size());
    Millis expires = millis(gate, "expires_at");
    std::string out = std::to_string(std::max(0, needed - have)) + " more signed approval" +
                      (needed - have == 1 ? "" : "s") + " (" + std::to_string(have) + " of " +
                      std::to_string(needed) + ")";
    if (expires > now) out += ", request expires in " + format_duration(expires - now);
    return out;
  }
  if (state == "provisioning") {
    return action == "enroll"
               ? "the agents of " + std::to_string(fresh) + " fresh servers to enroll"
               : "fresh servers to be created";
  }
  if (state == "staging") {
    return action == "start" ? "the services to start"
                             : "the agents to verify and stage the release";
  }
  if (state == "verifying") {
    int needed =
        member(timing, "health_successes").is_number() ? timing["health_successes"].get<int>() : 1;
    const json::Value& health = member(member(rollout, "release"), "health");
    if (member(health, "successes").is_number()) {
      needed = std::max(needed, health["successes"].get<int>());
    }
    return "health checks to pass " + std::to_string(needed) + " times in a row on each new server";
  }
  if (state == "shifting") {
    int percent = action_percent(action);
    const json::Value& analysis = member(run, "analysis");
    if (text(analysis, "outcome") == "inconclusive") {
      return "more requests on the new servers (analysis inconclusive: " +
             text(analysis, "reason") + ")";
    }
    Millis wait = member(timing, "step_wait_seconds").is_number()
                      ? timing["step_wait_seconds"].get<Millis>() * 1000
                      : 0;
    Millis due = millis(run, "step_since") + wait;
    std::string step = percent >= 0 ? std::to_string(percent) + "% step" : "next step";
    return "the analysis of the " + step +
           (due > now ? " in " + format_duration(due - now) : " (due now)");
  }
  if (state == "baking") {
    bool first =
        member(run, "first_deployment").is_boolean() && run["first_deployment"].get<bool>();
    Millis bake = first || !member(timing, "bake_time_seconds").is_number()
                      ? 0
                      : timing["bake_time_seconds"].get<Millis>() * 1000;
    Millis due = millis(run, "state_since") + bake;
    return "the bake time to pass" +
           (due > now ? " (" + format_duration(due - now) + " left)" : "") +
           "; the old servers are kept for a fast rollback";
  }
  if (state == "finalizing") return "the old servers to be drained and decommissioned";
  if (state == "rolling_back") {
    return action == "restore" ? "the old servers' weights to be restored"
                               : "the new servers to be decommissioned";
  }
  return "";
}

}  // namespace

std::string format_duration(Millis ms) {
  if (ms < 0) ms = 0;
  Millis s = ms / 1000;
  auto two = [](Millis v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m " + two(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h " + two(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d " + std::to_string(s % 86400 / 3600) + "h";
}

std::string shell_quote(std::string_view word) {
  bool plain = !word.empty();
  for (char c : word) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
    if (!ok) plain = false;
  }
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

json::Value canary_steps(const json::Value& rollout, const json::Value& run,
                         const json::Value& policy) {
  if (member(run, "first_deployment").is_boolean() && run["first_deployment"].get<bool>()) {
    return json::Value::array({100});
  }
  const json::Value& steps =
      member(timing_of(rollout, policy_region(policy, text(run, "region"))), "canary_steps");
  if (!steps.is_array() || steps.empty()) return json::Value::array({100});
  return steps;
}

json::Value traffic_split(const json::Value& run, int serving) {
  const std::string state = text(run, "state");
  // `previous` is recorded when provisioning begins; before that (and in a region that
  // never got that far) the servers in service now are the old ones.
  bool recorded = !array(run, "previous").empty() || !array(run, "fresh").empty() ||
                  !(state == "pending" || state == "awaiting_approval" ||
                    (state == "provisioning" && text(run, "action").empty()) ||
                    one_of(state, {"aborted", "rejected", "expired"}));
  bool has_old = recorded ? !array(run, "previous").empty() : serving > 0;
  int fresh = 0;
  if (state == "shifting") {
    int percent = action_percent(text(run, "action"));
    if (percent < 0) {
      // Between two steps the previous step's weights are still in place.
      const json::Value& analysis = member(run, "analysis");
      percent = member(analysis, "percent").is_number() ? analysis["percent"].get<int>() : 0;
    }
    fresh = std::clamp(percent, 0, 100);
  } else if (one_of(state, {"baking", "finalizing", "succeeded"})) {
    fresh = 100;
  }
  if (!has_old) return {{"new", fresh}, {"old", 0}};
  return {{"new", fresh}, {"old", 100 - fresh}};
}

int progress_percent(const json::Value& run) {
  const std::string state = text(run, "state");
  if (state == "shifting") return 50 + 35 * traffic_split(run)["new"].get<int>() / 100;
  static const std::map<std::string, int> kAt = {
      {"pending", 0},    {"awaiting_approval", 5}, {"provisioning", 15}, {"staging", 30},
      {"verifying", 45}, {"baking", 90},           {"finalizing", 95},   {"succeeded", 100}};
  auto found = kAt.find(state);
  return found == kAt.end() ? 0 : found->second;
}

json::Value region_view(const json::Value& rollout, const json::Value& run,
                        const ViewContext& context) {
  const std::string state = text(run, "state");
  const std::string name = text(run, "region");
  const json::Value& policy = context.policy;
  const Millis now = context.now;
  auto traffic_at = context.full_traffic_at.find(name);
  Millis full_traffic_at = traffic_at == context.full_traffic_at.end() ? 0 : traffic_at->second;
  auto serving = context.serving.find(name);
  int serving_now = serving == context.serving.end() ? 0 : serving->second;
  const json::Value& region = policy_region(policy, name);
  json::Value steps = canary_steps(rollout, run, policy);
  int step = member(run, "step").is_number() ? run["step"].get<int>() : 0;
  std::string label = state;
  std::replace(label.begin(), label.end(), '_', ' ');
  if (state == "shifting") {
    label += " step " + std::to_string(std::min(step + 1, static_cast<int>(steps.size()))) +
             " of " + std::to_string(steps.size());
  }
  json::Value fresh = json::Value::array(), previous = json::Value::array();
  for (const auto& s : array(run, "fresh")) fresh.push_back(text(s, "name"));
  for (const auto& s : array(run, "previous")) previous.push_back(text(s, "name"));
  const json::Value& streaks = member(run, "health_streak");
  int passing = 0;
  for (const auto& server : fresh) {
    const json::Value& streak = member(streaks, server.get<std::string>().c_str());
    if (streak.is_number() && streak.get<int>() > 0) ++passing;
  }
  Millis since = millis(run, "state_since");
  Millis created = millis(rollout, "created_at");
  if (full_traffic_at == 0 && state == "baking") full_traffic_at = since;
  json::Value time_to_patch;  // null until the region's traffic is all on the new release
  if (full_traffic_at > 0 && created > 0) time_to_patch = full_traffic_at - created;
  const json::Value& analysis = member(run, "analysis");
  json::Value view = {
      {"region", name},
      {"display_name", text(region, "display_name").empty() ? name : text(region, "display_name")},
      {"wave", member(run, "wave").is_number() ? run["wave"].get<int>() : 1},
      {"state", state},
      {"state_label", label},
      {"terminal", terminal_state(state)},
      {"failed", one_of(state, {"rolling_back", "rolled_back", "aborted", "rejected", "expired"})},
      {"paused", member(run, "paused").is_boolean() && run["paused"].get<bool>()},
      {"action", text(run, "action")},
      {"step", step},
      {"steps", steps},
      {"progress", progress_percent(run)},
      {"traffic", traffic_split(run, serving_now)},
      {"health",
       {{"servers", fresh.size()},
        {"passing", passing},
        {"streaks", streaks.is_object() ? streaks : json::Value::object()},
        {"last_check_at", millis(run, "last_health")},
        {"analysis",
         analysis.is_object() && analysis.contains("outcome") ? analysis : null_value()}}},
      {"state_since", since},
      {"time_in_state_ms", since > 0 && now > since ? now - since : 0},
      {"time_to_patch_ms", time_to_patch},
      {"waits_for", terminal_state(state) ? "" : waits_for(rollout, run, policy, now)},
      {"reason", text(run, "reason")},
      {"fresh", fresh},
      {"previous", previous},
      {"gate", member(run, "gate").is_object() ? run["gate"] : json::Value::object()}};
  return view;
}

json::Value rollout_view(const json::Value& detail, const ViewContext& context) {
  json::Value regions = json::Value::array();
  int progress = 0, count = 0;
  Millis slowest = 0;
  bool all_patched = true;
  const Millis now = context.now;
  for (const auto& run : array(detail, "regions")) {
    json::Value view = region_view(detail, run, context);
    progress += view["progress"].get<int>();
    ++count;
    if (view["time_to_patch_ms"].is_number()) {
      slowest = std::max(slowest, view["time_to_patch_ms"].get<Millis>());
    } else {
      all_patched = false;
    }
    regions.push_back(std::move(view));
  }
  const json::Value& release = member(detail, "release");
  Millis created = millis(detail, "created_at");
  return {{"id", text(detail, "id")},
          {"app", text(detail, "app")},
          {"version", text(detail, "version")},
          {"target", text(detail, "target")},
          {"sha256", text(detail, "sha256")},
          {"urgency", text(detail, "urgency")},
          {"cves", array(release, "cves")},
          {"state", text(detail, "state")},
          {"terminal", !one_of(text(detail, "state"), {"pending", "running"})},
          {"created_at", created},
          {"age_ms", created > 0 && now > created ? now - created : 0},
          {"emergency", member(detail, "emergency")},
          {"progress", count > 0 ? progress / count : 0},
          {"time_to_patch_ms", all_patched && count > 0 ? json::Value(slowest) : null_value()},
          {"regions", regions}};
}

json::Value rollouts_view(const json::Value& list, Millis now) {
  json::Value out = json::Value::array();
  for (const auto& r : array(list, "rollouts")) {
    json::Value regions = json::Value::array();
    const json::Value& states = member(r, "regions");
    if (states.is_object()) {
      for (auto it = states.begin(); it != states.end(); ++it) {
        regions.push_back({{"region", it.key()}, {"state", it.value()}});
      }
    }
    Millis created = millis(r, "created_at");
    out.push_back({{"id", text(r, "id")},
                   {"app", text(r, "app")},
                   {"version", text(r, "version")},
                   {"urgency", text(r, "urgency")},
                   {"state", text(r, "state")},
                   {"active", one_of(text(r, "state"), {"pending", "running"})},
                   {"created_at", created},
                   {"age_ms", created > 0 && now > created ? now - created : 0},
                   {"regions", regions}});
  }
  std::reverse(out.begin(), out.end());
  return {{"rollouts", out}};
}

}  // namespace pw::dashboard
