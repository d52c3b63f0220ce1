// One region's gate (awaiting_approval): signed approvals from the region's own
// approvers, then its maintenance window; an honoured emergency takes the shortcuts its
// policy allows (fewer approvals, windows ignored), each audited and kept in the gate.
//
// The controller checked every approval document when it was submitted; the gate checks
// them again against the policy in force and the time now, so a key removed from the
// policy or an approval that expired while the region waited no longer counts.
#include <algorithm>
#include <chrono>
#include <set>

#include "common/trust/metadata.hpp"
#include "orchestrator/approval/approval.hpp"
#include "orchestrator/rollout/context.hpp"

namespace pw::rollout {
namespace {

using SystemTime = std::chrono::system_clock::time_point;

SystemTime to_time(Millis ms) { return SystemTime(std::chrono::milliseconds(ms)); }

Millis to_millis(SystemTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::string short_key(const std::string& keyid) { return keyid.substr(0, 8); }

std::string count_text(std::size_t have, std::size_t needed) {
  return std::to_string(have) + " of " + std::to_string(needed) + " approval" +
         (needed == 1 ? "" : "s");
}

// What an honoured emergency changes in this region, for the audit log and the status.
json::Value shortcuts_of(const Rollout& rollout, const fleet::Region& region, std::size_t needed) {
  json::Value out = json::Value::array();
  if (!is_emergency(rollout)) return out;
  if (needed < region.approvers.threshold) {
    out.push_back("approvals: " + std::to_string(needed) + " instead of " +
                  std::to_string(region.approvers.threshold) + " (emergency policy)");
  }
  if (region.emergency_skips_windows && !region.windows.empty()) {
    out.push_back("maintenance windows ignored (emergency policy)");
  }
  const auto& normal = region.timing;
  const auto& fast = region.emergency_timing;
  if (fast.step_wait < normal.step_wait) {
    out.push_back("step_wait " + fleet::format_duration(fast.step_wait) + " instead of " +
                  fleet::format_duration(normal.step_wait));
  }
  if (fast.bake_time < normal.bake_time) {
    out.push_back("bake_time " + fleet::format_duration(fast.bake_time) + " instead of " +
                  fleet::format_duration(normal.bake_time));
  }
  return out;
}

}  // namespace

Status Engine::open_gate(Ctx& ctx, std::size_t needed) {
  RegionRun& run = ctx.run;
  const fleet::Region& region = ctx.region;
  json::Value approvers = json::Value::array();
  for (const auto& key : region.approvers.keys) approvers.push_back(key.keyid());
  json::Value shortcuts = shortcuts_of(ctx.rollout, region, needed);
  Millis expires_at =
      run.state_since +
      std::chrono::duration_cast<std::chrono::milliseconds>(region.approval_timeout).count();
  run.gate = {{"needed", needed},
              {"threshold", region.approvers.threshold},
              {"approvers", approvers},
              {"approved_by", json::Value::array()},
              {"requested_at", run.state_since},
              {"expires_at", expires_at},
              {"window", fleet::describe_windows(region)},
              {"window_opens_at", 0},
              {"waiting_for", needed > 0 ? "approvals" : "window"},
              {"shortcuts", shortcuts}};
  PW_TRY(save_action(ctx, "gate"));
  json::Value inputs = {
      {"rollout", ctx.rollout.id},    {"region", run.region}, {"target", ctx.rollout.target},
      {"sha256", ctx.rollout.sha256}, {"needed", needed},     {"approvers", approvers},
      {"expires_at", expires_at}};
  PW_TRY(ports_.records->audit("controller", "approval.requested", inputs,
                               needed > 0 ? "ok" : "no approval needed"));
  for (const auto& shortcut : shortcuts) {
    PW_TRY(ports_.records->audit(
        "controller", "rollout.shortcut",
        {{"rollout", ctx.rollout.id}, {"region", run.region}, {"shortcut", shortcut}}, "ok"));
  }
  if (needed == 0) return Ok{};
  const json::Value& release = ctx.rollout.release;
  json::Value cves = release.value("cves", json::Value::array());
  std::string text =
      "Patchwave: approval requested for " + release_name(ctx.rollout) + " (" + ctx.rollout.urgency;
  for (const auto& cve : cves) text += ", " + cve.get<std::string>();
  text += ") in region " + run.region + ": " + std::to_string(needed) + " of " +
          std::to_string(region.approvers.keys.size()) + " approvers; rollout " + ctx.rollout.id +
          "; expires " +
          trust::format_time(std::chrono::floor<std::chrono::seconds>(to_time(expires_at)));
  inputs["app"] = ctx.rollout.app;
  inputs["version"] = ctx.rollout.version;
  inputs["urgency"] = ctx.rollout.urgency;
  inputs["cves"] = cves;
  inputs["window"] = run.gate["window"];
  return ports_.records->notify("approval.requested", inputs, text);
}

Status Engine::on_awaiting_approval(Ctx& ctx) {
  RegionRun& run = ctx.run;
  const fleet::Region& region = ctx.region;
  bool emergency = is_emergency(ctx.rollout);
  std::size_t needed = region.approvals_needed(emergency);
  if (run.action.empty()) PW_TRY(open_gate(ctx, needed));
  json::Value before = run.gate;
  run.gate["needed"] = needed;

  PW_TRY_ASSIGN(auto documents, ports_.records->approvals(ctx.rollout.id, run.region));
  approval::Binding binding{ctx.rollout.id, ctx.rollout.target, ctx.rollout.sha256, run.region};
  auto now_seconds = std::chrono::floor<std::chrono::seconds>(to_time(ctx.now));
  std::set<std::string> approved_by;
  for (const auto& document : documents) {
    auto verdict = approval::verify_approval(document, binding, ctx.policy, now_seconds,
                                             "approval for " + run.region);
    if (!verdict.ok()) continue;  // refused (and audited) when submitted, or no longer valid
    if (verdict->decision == "reject") {
      run.reason = "rejected by approver " + short_key(verdict->keyid);
      if (!verdict->comment.empty()) run.reason += ": " + verdict->comment;
      return move(ctx, RegionState::rejected, run.reason);
    }
    approved_by.insert(verdict->keyid);
  }
  json::Value by = json::Value::array();
  for (const auto& keyid : approved_by) by.push_back(keyid);
  run.gate["approved_by"] = by;

  if (approved_by.size() < needed) {
    Millis expires_at = run.gate.value("expires_at", Millis{0});
    if (ctx.now >= expires_at) {
      run.reason = "the approval request expired with " + count_text(approved_by.size(), needed) +
                   " after " + fleet::format_duration(region.approval_timeout);
      return move(ctx, RegionState::expired, run.reason);
    }
    run.gate["waiting_for"] = "approvals";
    return run.gate == before ? Status(Ok{}) : ports_.records->save(ctx.rollout);
  }

  std::string opened = needed == 0 ? "no approval needed"
                                   : "approved by " + std::to_string(approved_by.size()) + " of " +
                                         std::to_string(needed);
  if (region.windows.empty()) {
    opened += "; no maintenance window";
  } else if (emergency && region.emergency_skips_windows) {
    opened += "; maintenance windows ignored (emergency)";
  } else if (fleet::in_window(region, to_time(ctx.now))) {
    opened += "; inside its window";
  } else {
    run.gate["waiting_for"] = "window";
    Millis opens_at = run.gate.value("window_opens_at", Millis{0});
    if (opens_at <= ctx.now) {
      auto next = fleet::next_window_start(region, to_time(ctx.now));
      if (!next) {
        run.reason = "no maintenance window of the region opens within a year";
        return move(ctx, RegionState::expired, run.reason);
      }
      run.gate["window_opens_at"] = to_millis(*next);
    }
    return run.gate == before ? Status(Ok{}) : ports_.records->save(ctx.rollout);
  }
  run.gate["waiting_for"] = "";
  return move(ctx, RegionState::provisioning, opened);
}

}  // namespace pw::rollout
