#include "orchestrator/controller/ui/metrics.hpp"

#include <map>

#include "orchestrator/controller/ui/views.hpp"

namespace pw::dashboard {
namespace {

const char* const kRolloutStates[] = {"pending",          "running",     "succeeded",
                                      "partially_failed", "rolled_back", "aborted"};
const char* const kServerStates[] = {"provisioned", "enrolled", "serving", "decommissioned"};

std::string text(const json::Value& object, const char* name) {
  if (!object.is_object() || !object.contains(name) || !object[name].is_string()) return {};
  return object[name].get<std::string>();
}

const json::Value& list(const json::Value& object, const char* name) {
  static const json::Value kEmpty = json::Value::array();
  if (!object.is_object() || !object.contains(name) || !object[name].is_array()) return kEmpty;
  return object[name];
}

double seconds(Millis ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

std::string render_metrics(const MetricsInput& input, const History& history) {
  Exposition out;
  out.family("patchwave_build_info", "gauge", "The controller: its name and Patchwave's version.");
  out.sample({{"controller", input.controller}, {"version", "0.1.0"}}, 1);

  std::map<std::string, int> by_state;
  for (const char* state : kRolloutStates) by_state[state] = 0;
  for (const auto& r : list(input.rollouts, "rollouts")) ++by_state[text(r, "state")];
  out.family("patchwave_rollouts", "gauge", "Rollouts by state.");
  for (const auto& [state, count] : by_state) out.sample({{"state", state}}, count);

  // The regions of rollouts in progress (and of the latest one): one series each.
  ViewContext context;
  context.policy = input.policy;
  context.now = input.now;
  for (const auto& server : list(input.servers, "servers")) {
    if (text(server, "state") == "serving") ++context.serving[text(server, "region")];
  }
  std::vector<json::Value> views;
  for (const auto& detail : input.details) {
    context.full_traffic_at = history.full_traffic(text(detail, "id"));
    views.push_back(rollout_view(detail, context));
  }
  out.family("patchwave_region_state", "gauge",
             "1 for the state each region of a rollout in progress (or the latest) is in.");
  for (const auto& v : views) {
    for (const auto& r : v["regions"]) {
      out.sample(
          {{"rollout", text(v, "id")}, {"region", text(r, "region")}, {"state", text(r, "state")}},
          1);
    }
  }
  out.family("patchwave_region_progress_percent", "gauge",
             "How far each region is along its path (0-100).");
  for (const auto& v : views) {
    for (const auto& r : v["regions"]) {
      out.sample({{"rollout", text(v, "id")}, {"region", text(r, "region")}},
                 r["progress"].get<double>());
    }
  }
  out.family("patchwave_region_traffic_percent", "gauge",
             "The share of a region's traffic on the new release's servers and on the old ones.");
  for (const auto& v : views) {
    for (const auto& r : v["regions"]) {
      for (const char* side : {"new", "old"}) {
        out.sample({{"rollout", text(v, "id")}, {"region", text(r, "region")}, {"servers", side}},
                   r["traffic"][side].get<double>());
      }
    }
  }
  out.family("patchwave_region_time_in_state_seconds", "gauge",
             "How long each region has been in its current state.");
  for (const auto& v : views) {
    for (const auto& r : v["regions"]) {
      out.sample(
          {{"rollout", text(v, "id")}, {"region", text(r, "region")}, {"state", text(r, "state")}},
          seconds(r["time_in_state_ms"].get<Millis>()));
    }
  }
  out.family("patchwave_region_time_to_patch_seconds", "gauge",
             "From the start of the rollout to all of the region's traffic on the new release.");
  for (const auto& v : views) {
    for (const auto& r : v["regions"]) {
      if (!r["time_to_patch_ms"].is_number()) continue;
      out.sample({{"rollout", text(v, "id")}, {"region", text(r, "region")}},
                 seconds(r["time_to_patch_ms"].get<Millis>()));
    }
  }
  out.family("patchwave_server_health_streak", "gauge",
             "Passing health checks in a row of each new server of a region in progress.");
  for (const auto& v : views) {
    for (const auto& r : v["regions"]) {
      if (r["terminal"].get<bool>()) continue;
      for (const auto& server : r["fresh"]) {
        const auto& streaks = r["health"]["streaks"];
        const std::string name = server.get<std::string>();
        out.sample(
            {{"rollout", text(v, "id")}, {"region", text(r, "region")}, {"server", name}},
            streaks.contains(name) && streaks[name].is_number() ? streaks[name].get<double>() : 0);
      }
    }
  }

  const json::Value& pending = list(input.approvals, "pending");
  int open_requests = 0;
  out.family("patchwave_approvals_waiting", "gauge",
             "Signed approvals a region still needs before it may start (regions at their gate).");
  for (const auto& request : pending) {
    if (text(request, "waiting_for") != "approvals") continue;
    ++open_requests;
    int needed = request.value("needed", 0);
    auto have = static_cast<int>(list(request, "approved_by").size());
    out.sample({{"rollout", text(request, "rollout")}, {"region", text(request, "region")}},
               needed > have ? needed - have : 0);
  }
  out.family("patchwave_approval_requests_open", "gauge",
             "Regions waiting at their gate: for approvals, or approved and waiting for a window.");
  int windows = static_cast<int>(pending.size()) - open_requests;
  out.sample({{"waiting_for", "approvals"}}, open_requests);
  out.sample({{"waiting_for", "window"}}, windows);

  std::map<std::string, std::map<std::string, int>> servers;  // region -> state -> count
  for (const auto& region : list(input.policy, "regions")) servers[text(region, "name")];
  for (const auto& server : list(input.servers, "servers")) {
    ++servers[text(server, "region")][text(server, "state")];
  }
  out.family("patchwave_servers", "gauge",
             "Servers (each with its agent) by region and state, as the controller records them.");
  for (auto& [region, states] : servers) {
    for (const char* state : kServerStates) states.emplace(state, 0);
    for (const auto& [state, count] : states) {
      out.sample({{"region", region}, {"state", state}}, count);
    }
  }
  out.family("patchwave_audit_events", "gauge", "Events in the audit log (the head's sequence).");
  const json::Value& head = input.status.is_object() && input.status.contains("audit_head")
                                ? input.status["audit_head"]
                                : json::Value();
  out.sample({}, head.is_object() ? head.value("seq", 0.0) : 0.0);
  history.render(out);
  return out.text();
}

}  // namespace pw::dashboard
