// The rollout engine's records: one Rollout (a release going to a set of regions in
// waves) holding one RegionRun per region. Both are state machines whose transitions are
// listed in one table each (model.cpp); anything else is refused, so a bug or a corrupt
// store cannot move a region from `pending` straight to `succeeded`.
//
// Everything the engine needs to resume after a crash lives in these records, which the
// engine saves before each action runs (`action` names it): the servers it created, the
// servers they replace, the traffic step, the health counters, the analysis baseline.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::rollout {

enum class RegionState {
  pending,            // its wave has not started
  awaiting_approval,  // the gate where approvals and windows plug in
  provisioning,       // fresh servers being created; their agents enroll
  staging,            // each agent downloads, verifies and stages the release
  verifying,          // services started; health checks must pass N times in a row
  shifting,           // traffic steps, with analysis after each
  baking,             // 100% on the new servers; the old ones kept for a fast rollback
  finalizing,         // old servers drained, stopped and decommissioned
  succeeded,
  rolling_back,  // old servers get their weight back; new ones drained and decommissioned
  rolled_back,
  aborted,
  rejected,  // an approver of the region said no
  expired,   // its approval request was not answered within the policy's approval_timeout
};

enum class RolloutState { pending, running, succeeded, partially_failed, rolled_back, aborted };

const char* name(RegionState state);
const char* name(RolloutState state);
Result<RegionState> parse_region_state(std::string_view text);
Result<RolloutState> parse_rollout_state(std::string_view text);

bool terminal(RegionState state);
bool terminal(RolloutState state);
// The transition tables.
bool allowed(RegionState from, RegionState to);
bool allowed(RolloutState from, RolloutState to);

using Millis = std::int64_t;  // milliseconds since the Unix epoch

struct ServerRef {
  std::string name;
  std::string agent;    // HOST:PORT of its agent API
  std::string service;  // HOST:PORT its service listens on (HAProxy's target)
};

struct RegionRun {
  std::string region;
  int wave = 1;
  std::string backend;  // the region's HAProxy backend, from the policy at creation
  int count = 0;        // fresh servers to create, from the policy at creation
  RegionState state = RegionState::pending;
  bool paused = false;
  std::string action;  // the action about to run (or running) in this state
  Millis state_since = 0;
  Millis step_since = 0;
  int step = 0;                              // index into the canary steps while shifting
  std::vector<ServerRef> fresh;              // created by this rollout
  std::vector<ServerRef> previous;           // in service before it; retired on success
  std::map<std::string, int> health_streak;  // fresh server -> passing checks in a row
  std::map<std::string, bool> healthy_once;  // fresh server -> has passed at least once
  Millis last_health = 0;
  json::Value baseline = json::Value::array();         // `show stat` at the start of the step
  json::Value analysis = json::Value::object();        // the last analysis (figures, verdict)
  std::string reason;                                  // why it is rolling back / rolled back
  RegionState rollback_to = RegionState::rolled_back;  // rolled_back or aborted
  bool first_deployment = false;  // no servers in service before: nothing to retire
  std::string retry;              // the failing action being retried (audited once)
  Millis retry_since = 0;         // when it started failing (the load balancer's outages)
  // The approval gate while awaiting_approval (and what opened it afterwards): needed,
  // approvers, approved_by, expires_at, window, window_opens_at, waiting_for, shortcuts.
  json::Value gate = json::Value::object();

  json::Value to_json() const;
  static Result<RegionRun> from_json(const json::Value& value);
};

struct Rollout {
  std::string id;
  std::string app, version, target, sha256, urgency;
  RolloutState state = RolloutState::pending;
  Millis created_at = 0;
  json::Value release = json::Value::object();  // the verified release description
  // An honoured emergency: who countersigned it ({"countersigned_by": [keyids],
  // "threshold": n}); null for a routine rollout.
  json::Value emergency = json::Value();
  std::vector<RegionRun> regions;

  RegionRun* find(std::string_view region);
  json::Value to_json() const;      // without regions' internals: for listings
  json::Value detail_json() const;  // everything: what the store keeps
  static Result<Rollout> from_json(const json::Value& detail);
};

// Moves `run` to `to` if the table allows it; otherwise an error naming both states.
Status transition(RegionRun& run, RegionState to, Millis now);
Status transition(Rollout& rollout, RolloutState to);

}  // namespace pw::rollout
