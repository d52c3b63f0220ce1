// Regional approvals and the emergency countersignatures, on the controller's side.
//
// An approval is a signed document (orchestrator/approval); whoever submits it, it counts
// only if its key is one of the region's approvers in the verified fleet policy, it is
// bound to this rollout, release and region, it has not expired and its key has not been
// counted already. Every accepted and refused submission is audited with the reason. The
// engine checks the stored documents again at the gate (rollout/gate.cpp).
#include <chrono>

#include "common/log/log.hpp"
#include "common/trust/metadata.hpp"
#include "orchestrator/api/requests.hpp"
#include "orchestrator/approval/approval.hpp"
#include "orchestrator/approval/countersign.hpp"
#include "orchestrator/controller/replies.hpp"
#include "orchestrator/controller/rollouts.hpp"

namespace pw::controller {
namespace {

trust::TimePoint now_seconds() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

std::string time_text(rollout::Millis ms) {
  if (ms <= 0) return "";
  return trust::format_time(std::chrono::floor<std::chrono::seconds>(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))));
}

// "bw-r1a2b3c4-0" -> "r1a2b3c4": the rollout that created a server (its name says so).
std::string rollout_of_server(const std::string& region, const std::string& server) {
  if (server.rfind(region + "-", 0) != 0) return "";
  std::string rest = server.substr(region.size() + 1);
  auto dash = rest.rfind('-');
  return dash == std::string::npos ? "" : rest.substr(0, dash);
}

}  // namespace

Result<json::Value> Rollouts::check_countersignatures(const rollout::ReleaseInfo& release,
                                                      const std::string& countersignature,
                                                      const fleet::Policy& policy) {
  if (!policy.security_officers) {
    return make_error(Errc::signature,
                      "the fleet policy names no security_officers, so no release can take the "
                      "emergency path");
  }
  if (countersignature.empty()) {
    return make_error(Errc::signature,
                      "it carries no countersignature (countersignatures/" + release.target +
                          ".json): " + std::to_string(policy.security_officers->threshold) +
                          " of the security officers must sign it with `patchwave release "
                          "countersign`");
  }
  PW_TRY_ASSIGN(auto signed_by,
                approval::verify_countersignatures(
                    countersignature, release.target, release.sha256, *policy.security_officers,
                    "countersignatures/" + release.target + ".json"));
  json::Value keys = json::Value::array();
  for (const auto& keyid : signed_by.keyids) keys.push_back(keyid);
  return json::Value{{"countersigned_by", keys}, {"threshold", signed_by.threshold}};
}

Status Rollouts::honour_emergency(rollout::ReleaseInfo& release,
                                  const std::string& countersignature, const fleet::Policy& policy,
                                  bool as_routine, const std::string& who) {
  auto checked = check_countersignatures(release, countersignature, policy);
  json::Value inputs = {{"target", release.target}, {"sha256", release.sha256}};
  if (checked.ok()) {
    release.emergency = *checked;
    inputs["countersigned_by"] = (*checked)["countersigned_by"];
    return records_.audit(who, "rollout.emergency_honoured", inputs, "ok");
  }
  std::string problem = checked.error().message;
  if (as_routine) {
    release.urgency = "routine";
    return records_.audit(who, "rollout.emergency_downgraded", inputs,
                          "runs as routine: " + problem);
  }
  PW_TRY(records_.audit(who, "rollout.emergency_refused", inputs, "refused: " + problem));
  return make_error(Errc::signature, release.target + ": refused as an emergency: " + problem +
                                         " (or start it with --routine to take the routine path)");
}

json::Value Rollouts::approval_request(const rollout::Rollout& r, const rollout::RegionRun& run,
                                       const fleet::Policy& policy) {
  const fleet::Region* region = policy.find(run.region);
  json::Value retire = json::Value::array();
  std::string from_version;
  if (auto serving = fleet_.serving(run.region); serving.ok()) {
    for (const auto& server : *serving) {
      retire.push_back(server.name);
      std::string id = rollout_of_server(run.region, server.name);
      if (from_version.empty() && !id.empty()) {
        if (auto earlier = records_.load_one(id); earlier.ok() && *earlier) {
          from_version = (*earlier)->version;
        }
      }
    }
  }
  const json::Value& gate = run.gate;
  json::Value steps = json::Value::array();
  if (region != nullptr) {
    const auto& timing = r.urgency == "emergency" ? region->emergency_timing : region->timing;
    if (retire.empty()) {
      steps.push_back(100);
    } else {
      for (int step : timing.canary_steps) steps.push_back(step);
    }
  }
  return {{"rollout", r.id},
          {"region", run.region},
          {"display_name", region != nullptr ? region->display_name : run.region},
          {"state", rollout::name(run.state)},
          {"app", r.app},
          {"from_version", from_version.empty() ? json::Value() : json::Value(from_version)},
          {"version", r.version},
          {"target", r.target},
          {"sha256", r.sha256},
          {"cves", r.release.value("cves", json::Value::array())},
          {"urgency", r.urgency},
          {"emergency", r.emergency},
          {"create", run.count},
          {"retire", retire},
          {"traffic_steps", steps},
          {"window", gate.value("window", region ? fleet::describe_windows(*region) : "")},
          {"window_opens_at", time_text(gate.value("window_opens_at", rollout::Millis{0}))},
          {"approvers", gate.value("approvers", json::Value::array())},
          {"needed", gate.value("needed", 0)},
          {"approved_by", gate.value("approved_by", json::Value::array())},
          {"waiting_for", gate.value("waiting_for", "")},
          {"shortcuts", gate.value("shortcuts", json::Value::array())},
          {"requested_at", time_text(gate.value("requested_at", rollout::Millis{0}))},
          {"expires_at", time_text(gate.value("expires_at", rollout::Millis{0}))}};
}

net::Response Rollouts::approvals_api(const net::Request& request, const std::string& who) {
  if (request.method == "POST") return submit_approval(request.body, "operator:" + who);
  if (request.method != "GET") return error_reply(405, "method", "use GET or POST");
  auto current = policy();
  if (!current.ok()) return error_reply(409, "conflict", current.error().to_string());
  std::string query = api::split_target(request.target).second;
  std::string only_region = api::query_value(query, "region");
  std::string only_rollout = api::query_value(query, "rollout");
  auto active = records_.load(true);
  if (!active.ok()) return error_reply(active.error());
  json::Value pending = json::Value::array();
  for (const auto& r : *active) {
    if (!only_rollout.empty() && r.id != only_rollout) continue;
    for (const auto& run : r.regions) {
      if (run.state != rollout::RegionState::awaiting_approval) continue;
      if (!only_region.empty() && run.region != only_region) continue;
      pending.push_back(approval_request(r, run, (*current)->typed));
    }
  }
  return reply(200, {{"pending", pending}});
}

net::Response Rollouts::submit_approval(const std::string& document, const std::string& who) {
  // Audited either way: what the document claims, who handed it in, and the verdict.
  json::Value inputs = {{"submitted_by", who}};
  auto refuse = [&](int status, const std::string& code, const std::string& reason) {
    (void)records_.audit(who, "approval.refused", inputs, "refused: " + reason);
    log::info("approval_refused", {{"reason", reason}});
    return error_reply(status, code, "approval refused: " + reason);
  };
  if (document.size() > approval::kMaxDocumentBytes) {
    return refuse(413, "limit",
                  "the document is larger than " +
                      std::to_string(approval::kMaxDocumentBytes / 1024) + " KiB");
  }
  auto parsed = approval::parse_approval(document, "approval");
  if (!parsed.ok()) return refuse(400, "parse", parsed.error().to_string());
  inputs["rollout"] = parsed->rollout;
  inputs["region"] = parsed->region;
  inputs["keyid"] = parsed->keyid;
  inputs["decision"] = parsed->decision;
  auto current = policy();
  if (!current.ok()) return refuse(409, "conflict", current.error().to_string());
  auto found = records_.load_one(parsed->rollout);
  if (!found.ok()) return refuse(500, "internal", found.error().to_string());
  if (!*found) return refuse(404, "not_found", "there is no rollout " + parsed->rollout);
  const rollout::Rollout& r = **found;
  const rollout::RegionRun* run = nullptr;
  for (const auto& candidate : r.regions) {
    if (candidate.region == parsed->region) run = &candidate;
  }
  if (run == nullptr) {
    return refuse(404, "not_found", "rollout " + r.id + " does not go to region " + parsed->region);
  }
  if (run->state != rollout::RegionState::pending &&
      run->state != rollout::RegionState::awaiting_approval) {
    return refuse(409, "conflict",
                  "region " + run->region + " of rollout " + r.id + " is past its gate (" +
                      rollout::name(run->state) + ")");
  }
  approval::Binding binding{r.id, r.target, r.sha256, run->region};
  auto verdict =
      approval::verify_approval(document, binding, (*current)->typed, now_seconds(), "approval");
  if (!verdict.ok()) {
    const Error& error = verdict.error();
    return refuse(http_status(error.code), errc_name(error.code), error.message);
  }
  auto counted = records_.has_approval(r.id, run->region, verdict->keyid);
  if (!counted.ok()) return refuse(500, "internal", counted.error().to_string());
  if (*counted) {
    return refuse(409, "conflict",
                  "key " + verdict->keyid.substr(0, 8) + " has already been counted for region " +
                      run->region + " of rollout " + r.id);
  }
  if (auto added = records_.add_approval(r.id, run->region, verdict->keyid, document);
      !added.ok()) {
    return refuse(500, "internal", added.error().to_string());
  }
  inputs["comment"] = verdict->comment;
  inputs["expires"] = trust::format_time(verdict->expires);
  (void)records_.audit(who, "approval.accepted", inputs, verdict->decision);
  auto documents = records_.approvals(r.id, run->region);
  std::size_t approvals = 0;
  if (documents.ok()) {
    for (const auto& d : *documents) {
      auto again =
          approval::verify_approval(d, binding, (*current)->typed, now_seconds(), "approval");
      if (again.ok() && again->decision == "approve") ++approvals;
    }
  }
  return reply(201, {{"accepted", true},
                     {"rollout", r.id},
                     {"region", run->region},
                     {"keyid", verdict->keyid},
                     {"decision", verdict->decision},
                     {"approvals", approvals},
                     {"needed", run->gate.value("needed", json::Value())}});
}

}  // namespace pw::controller
