// The rollout engine: takes a verified release to every region of a rollout on fresh
// servers, region by region along the transitions in model.cpp:
//
//   pending -> awaiting_approval -> provisioning -> staging -> verifying
//     -> shifting(step 0..n) -> baking -> finalizing -> succeeded
//   any of provisioning..baking -> rolling_back -> rolled_back | aborted
//
// It is a reconciler: tick() looks at the stored record and the world and moves each
// region on as far as it can without waiting, saving the record before every action
// (Records::save), so a controller killed at any point picks up where it stopped and
// repeats at most the one idempotent action it had recorded. Operators never write
// records: their pause/resume/abort/rollback requests are queued commands the next tick
// applies. Regions go in waves (fleet policy); a wave starts when the previous one has
// finished, with at most Options::max_parallel regions at once.
#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/fleet/policy.hpp"
#include "orchestrator/rollout/model.hpp"
#include "orchestrator/rollout/ports.hpp"
#include "orchestrator/rollout/workers.hpp"

namespace pw::rollout {

struct Options {
  Millis provision_timeout = 10 * 60 * 1000;  // servers created and enrolled
  Millis stage_timeout = 10 * 60 * 1000;      // every agent has staged the release
  Millis verify_timeout = 5 * 60 * 1000;      // the health gate passes
  // Analysis: fewer requests on the new servers is inconclusive; a step that is still
  // inconclusive this long after its wait is over times out (and rolls back).
  std::uint64_t min_requests = 20;
  Millis inconclusive_grace = 2 * 60 * 1000;
  double max_latency_ratio = 2.0;
  std::uint64_t latency_floor_ms = 50;
  int max_parallel = 4;   // regions of one wave in progress at once
  int full_weight = 256;  // a region's whole traffic, spread over its servers
  // Start a region's services in the background and look for the answers on later ticks
  // (each agent answers once its startup window has passed), so that the loop goes on
  // with the other regions meanwhile. Off: the tick waits for them (the unit tests' fakes
  // answer at once).
  bool background_start = false;
};

struct ReleaseInfo {
  std::string app, version, target, sha256, urgency;
  json::Value release = json::Value::object();  // the release description (custom.release)
  json::Value emergency = json::Value();  // an honoured emergency's countersigners (model.hpp)
};

class Engine {
 public:
  Engine(Ports ports, Options options = {})
      : ports_(ports),
        options_(options),
        workers_(std::make_shared<Workers>(kWorkers)),
        background_(std::make_shared<BackgroundCalls>()) {}

  // A new rollout of `release` to `regions` (every region of the policy when empty), in
  // state pending; saved and audited. Errors name an unknown region or a release that
  // cannot be routed (no service port).
  Result<Rollout> create(const std::string& id, const ReleaseInfo& release,
                         const fleet::Policy& policy, const std::vector<std::string>& regions,
                         const std::string& actor);

  // Applies queued commands, then moves every region on. Errors are the store's (the
  // record could not be saved); everything else is handled inside (retry or roll back).
  Status tick(Rollout& rollout, const fleet::Policy& policy);

  // Region weights as they should be now for a region not in a rollout: its servers in
  // service, sharing the full weight (after an HAProxy restart).
  std::vector<Weight> steady_weights(const std::vector<ServerRef>& serving) const;

  // After HAProxy lost its servers (a restart): puts back what this region should have
  // now, or arranges for the next tick to. False when the region has no traffic of its
  // own yet (its servers in service are the caller's to restore).
  bool reapply(Rollout& rollout, RegionRun& run);

  const Options& options() const { return options_; }

  // When the loop must tick again. begin_round() forgets; each tick then lowers wake()
  // to the time (this engine's clock) at which a region it moved on has something to do:
  // its next health check, the end of its step or bake, a timeout; "now" for a region
  // that is busy (provisioning, staging, a gate, retiring, a rollback, a retry), so a
  // loop ticks again at once. kNever: no region here waits on time (paused, or driven
  // elsewhere); commands and new rollouts wake the loop on their own.
  static constexpr Millis kNever = std::numeric_limits<Millis>::max();
  void begin_round() { wake_ = kNever; }
  Millis wake() const { return wake_; }

 private:
  struct Ctx;
  Status apply_command(Rollout& rollout, const Command& command, std::string& outcome);
  Status advance(Ctx& ctx);
  Status on_awaiting_approval(Ctx& ctx);
  Status open_gate(Ctx& ctx, std::size_t needed);
  Status on_provisioning(Ctx& ctx);
  Status on_staging(Ctx& ctx);
  Status on_verifying(Ctx& ctx);
  Status on_shifting(Ctx& ctx);
  Status on_baking(Ctx& ctx);
  Status on_finalizing(Ctx& ctx);
  Status on_rolling_back(Ctx& ctx);
  // Checks the fresh servers when an interval has passed. nullopt: all passed (or not
  // due); otherwise why the region must roll back ("" = failures, no verdict yet).
  Result<std::optional<std::string>> check_health(Ctx& ctx, bool flapping_fails);
  Status begin_rollback(Ctx& ctx, const std::string& reason);
  Status retry(Ctx& ctx, const std::string& what, const std::string& error);
  // HAProxy's runtime API failed while shifting: the controller restarts a dead HAProxy
  // and re-applies the weights, so the step is retried for up to inconclusive_grace
  // before the region rolls back. Errors other than I/O roll back at once.
  Status traffic_trouble(Ctx& ctx, const std::string& what, const Error& error);
  Status move(Ctx& ctx, RegionState to, const std::string& detail = "");
  Status save_action(Ctx& ctx, const std::string& action);
  // Whether this process drives `region` of `rollout` ("": the rollout's record), and
  // the check before each side effect (Ports::leases; always yes without it).
  bool drives(const Rollout& rollout, const std::string& region);
  Status fence(const Ctx& ctx);
  std::vector<Weight> weights(const RegionRun& run, int percent) const;
  void finish_rollout(Rollout& rollout);

  // Calls to a region's servers run on these, up to 16 at once.
  static constexpr std::size_t kWorkers = 16;
  Ports ports_;
  Options options_;
  std::shared_ptr<Workers> workers_;
  std::shared_ptr<BackgroundCalls> background_;  // services starting (background_start)
  Millis wake_ = kNever;
};

}  // namespace pw::rollout
