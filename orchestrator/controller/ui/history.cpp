#include "orchestrator/controller/ui/history.hpp"

#include <ctime>

namespace pw::dashboard {
namespace {

bool digits(const std::string& text, std::size_t at, std::size_t n, int& out) {
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

bool starts(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

const char* const kPhases[] = {"pending", "awaiting_approval", "provisioning",
                               "staging", "verifying",         "shifting",
                               "baking",  "finalizing",        "rolling_back"};
const char* const kFinal[] = {"succeeded", "rolled_back", "aborted", "rejected", "expired"};

// A counter family whose label takes every value in `always` (0 when not seen), plus
// any other value seen.
void counters(Exposition& out, const char* name, const char* help, const char* label,
              const std::map<std::string, std::uint64_t>& values,
              std::initializer_list<const char*> always) {
  out.family(name, "counter", help);
  std::map<std::string, std::uint64_t> all(values);
  for (const char* value : always) all.emplace(value, 0);
  for (const auto& [value, count] : all) out.sample({{label, value}}, static_cast<double>(count));
}

}  // namespace

Millis parse_rfc3339_ms(const std::string& text) {
  // YYYY-MM-DDTHH:MM:SSZ
  int year, month, day, hour, minute, second;
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z' || !digits(text, 0, 4, year) ||
      !digits(text, 5, 2, month) || !digits(text, 8, 2, day) || !digits(text, 11, 2, hour) ||
      !digits(text, 14, 2, minute) || !digits(text, 17, 2, second)) {
    return 0;
  }
  std::tm utc{};
  utc.tm_year = year - 1900;
  utc.tm_mon = month - 1;
  utc.tm_mday = day;
  utc.tm_hour = hour;
  utc.tm_min = minute;
  utc.tm_sec = second;
  return static_cast<Millis>(timegm(&utc)) * 1000;
}

std::string rollback_reason_class(const std::string& reason) {
  if (contains(reason, "timed out") && contains(reason, "analysis")) return "analysis_timeout";
  if (starts(reason, "analysis")) return "analysis";
  if (starts(reason, "health gate") || contains(reason, "health check")) return "health";
  if (starts(reason, "provisioning") || contains(reason, "did not enroll")) return "provisioning";
  if (contains(reason, "staging failed") || contains(reason, "did not stage")) return "staging";
  if (contains(reason, "did not start")) return "start";
  if (starts(reason, "traffic")) return "traffic";
  if (starts(reason, "aborted by") || starts(reason, "rollback requested by")) return "operator";
  if (contains(reason, "left the fleet policy")) return "policy";
  return "other";
}

void History::add(const json::Value& event) {
  if (!event.is_object()) return;
  std::int64_t seq = event.value("seq", std::int64_t{0});
  if (seq <= last_seq_) return;
  last_seq_ = seq;
  const std::string action = event.value("action", "");
  const std::string outcome = event.value("outcome", "");
  const json::Value& inputs = event.contains("inputs") && event["inputs"].is_object()
                                  ? event["inputs"]
                                  : json::Value::object();
  Millis at = inputs.contains("at_ms") && inputs["at_ms"].is_number_integer()
                  ? inputs["at_ms"].get<Millis>()
                  : parse_rfc3339_ms(event.value("time", ""));
  const std::string rollout = inputs.value("rollout", "");
  if (action == "rollout.create") {
    rollouts_[rollout] = {at, inputs.value("urgency", "routine")};
    for (const auto& region : inputs.value("regions", json::Value::array())) {
      if (region.is_string()) tracks_[{rollout, region.get<std::string>()}] = {"pending", at};
    }
  } else if (action == "approval.requested") {
    auto& track = tracks_[{rollout, inputs.value("region", "")}];
    if (track.state == "pending") observe_phase("pending", track.since, at);
    track = {"awaiting_approval", at};
  } else if (action == "rollout.region") {
    region_event(inputs, outcome, at);
  } else if (action == "rollout.traffic_restored") {
    Millis decided = inputs.value("decided_at_ms", Millis{0});
    Millis restored = inputs.value("restored_at_ms", Millis{0});
    if (decided > 0 && restored >= decided) {
      restore_seconds_.observe(static_cast<double>(restored - decided) / 1000.0);
    }
  } else if (action == "sync") {
    bool ok = outcome == "ok";
    ++syncs_[ok ? "ok" : "refused"];
    if (ok) last_sync_ok_ = at;
  } else if (action == "approval.accepted") {
    ++approvals_[outcome == "reject" ? "rejected" : "approved"];
  } else if (action == "approval.refused") {
    ++approvals_["refused"];
  } else if (action == "api.refused" || action == "ui.refused") {
    ++refused_[action.substr(0, action.find('.'))];
  } else if (action == "notify.failed") {
    ++notify_failed_;
  } else if (action == "rollout.pause" || action == "rollout.resume" || action == "rollout.abort" ||
             action == "rollout.rollback") {
    ++commands_[action.substr(8)];
  }
}

void History::region_event(const json::Value& inputs, const std::string& outcome, Millis at) {
  const std::string rollout = inputs.value("rollout", "");
  const std::string region = inputs.value("region", "");
  auto& track = tracks_[{rollout, region}];
  if (!inputs.contains("to")) {
    // A region that never started (failure_policy: halt): {"state": "aborted"}.
    std::string state = inputs.value("state", "");
    if (!state.empty()) {
      ++finished_[state];
      track = {state, at};
    }
    return;
  }
  const std::string from = inputs.value("from", track.state);
  const std::string to = inputs.value("to", "");
  if (track.since > 0 && !from.empty()) observe_phase(from, track.since, at);
  if (from == "verifying" && to == "shifting") ++health_["passed"];
  if (from == "shifting" && (to == "shifting" || to == "baking")) ++analyses_["passed"];
  if (to == "baking") {
    full_traffic_[{rollout, region}] = at;
    auto info = rollouts_.find(rollout);
    if (info != rollouts_.end() && info->second.created > 0 && at >= info->second.created) {
      auto [entry, added] = time_to_patch_.try_emplace(info->second.urgency, duration_buckets());
      entry->second.observe(static_cast<double>(at - info->second.created) / 1000.0);
    }
  }
  if (to == "rolling_back") {
    std::string kind = rollback_reason_class(outcome);
    ++rollbacks_[kind];
    if (kind == "analysis") ++analyses_["failed"];
    if (kind == "analysis_timeout") ++analyses_["timed_out"];
    if (kind == "health") ++health_["failed"];
  }
  for (const char* final_state : kFinal) {
    if (to == final_state) ++finished_[to];
  }
  track = {to, at};
}

void History::observe_phase(const std::string& phase, Millis from, Millis to) {
  if (from <= 0 || to < from) return;
  auto [entry, added] = phase_seconds_.try_emplace(phase, duration_buckets());
  entry->second.observe(static_cast<double>(to - from) / 1000.0);
}

Millis History::full_traffic_at(const std::string& rollout, const std::string& region) const {
  auto found = full_traffic_.find({rollout, region});
  return found == full_traffic_.end() ? 0 : found->second;
}

std::map<std::string, Millis> History::full_traffic(const std::string& rollout) const {
  std::map<std::string, Millis> out;
  for (const auto& [key, at] : full_traffic_) {
    if (key.first == rollout) out[key.second] = at;
  }
  return out;
}

void History::render(Exposition& out) const {
  out.family("patchwave_region_phase_duration_seconds", "histogram",
             "Time regions spent in each phase of a rollout (from the audit log).");
  for (const char* phase : kPhases) {
    auto found = phase_seconds_.find(phase);
    out.histogram({{"phase", phase}},
                  found != phase_seconds_.end() ? found->second : Histogram(duration_buckets()));
  }
  out.family("patchwave_time_to_patch_seconds", "histogram",
             "From the start of a rollout to all of a region's traffic on the new release.");
  for (const char* urgency : {"routine", "emergency"}) {
    auto found = time_to_patch_.find(urgency);
    out.histogram({{"urgency", urgency}},
                  found != time_to_patch_.end() ? found->second : Histogram(duration_buckets()));
  }
  counters(out, "patchwave_health_gate_results_total",
           "Health gates passed, and rollbacks because a health check failed.", "result", health_,
           {"passed", "failed"});
  counters(out, "patchwave_canary_analyses_total",
           "Canary analyses of traffic steps that passed, failed or timed out inconclusive.",
           "result", analyses_, {"passed", "failed", "timed_out"});
  counters(out, "patchwave_rollbacks_total", "Regions that rolled back, by the kind of reason.",
           "reason", rollbacks_,
           {"analysis", "analysis_timeout", "health", "provisioning", "staging", "start", "traffic",
            "operator", "policy", "other"});
  out.family("patchwave_rollback_restore_seconds", "histogram",
             "From the decision to roll back to the old servers' weights restored in HAProxy.");
  out.histogram({}, restore_seconds_);
  counters(out, "patchwave_regions_finished_total", "Regions that finished, by their final state.",
           "state", finished_, {"succeeded", "rolled_back", "aborted", "rejected", "expired"});
  counters(out, "patchwave_syncs_total",
           "Syncs of the manifests repository: verified (ok) or refused.", "result", syncs_,
           {"ok", "refused"});
  out.family("patchwave_last_sync_success_timestamp_seconds", "gauge",
             "When the manifests last verified (Unix time; 0: never).");
  out.sample({}, static_cast<double>(last_sync_ok_ / 1000));
  counters(out, "patchwave_approvals_total",
           "Signed approval documents handed in: approved, rejected, or refused by the controller.",
           "result", approvals_, {"approved", "rejected", "refused"});
  counters(out, "patchwave_operator_commands_total",
           "Operators' pause, resume, abort and rollback commands applied.", "command", commands_,
           {"pause", "resume", "abort", "rollback"});
  counters(out, "patchwave_refused_requests_total",
           "Operators' requests refused for their role (api: the REST API, ui: the dashboard).",
           "surface", refused_, {"api", "ui"});
  out.family("patchwave_notifications_failed_total", "counter",
             "Webhook notifications given up after their last attempt.");
  out.sample({}, static_cast<double>(notify_failed_));
}

}  // namespace pw::dashboard
