#include "orchestrator/rollout/engine.hpp"

#include <algorithm>
#include <set>

#include "orchestrator/rollout/context.hpp"

namespace pw::rollout {
namespace {

std::uint16_t service_port(const json::Value& release) {
  const json::Value& health = release.value("health", json::Value::object());
  auto port = health.value("port", std::uint64_t{0});
  return port > 0 && port < 65536 ? static_cast<std::uint16_t>(port) : 0;
}

// A region that stopped short of success on its own (not by an operator's abort).
bool failed(RegionState state) {
  return state == RegionState::rolled_back || state == RegionState::rejected ||
         state == RegionState::expired;
}

// The audit event of a region's move, as every move writes it (with its saved state).
AuditEntry region_move(const Rollout& rollout, const RegionRun& run, RegionState from,
                       const std::string& outcome) {
  return {"controller",
          "rollout.region",
          {{"rollout", rollout.id},
           {"region", run.region},
           {"from", name(from)},
           {"to", name(run.state)},
           {"step", run.step}},
          outcome};
}

}  // namespace

std::string host_of(const std::string& address) {
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    return close == std::string::npos ? address : address.substr(1, close - 1);
  }
  auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

Result<Rollout> Engine::create(const std::string& id, const ReleaseInfo& release,
                               const fleet::Policy& policy, const std::vector<std::string>& regions,
                               const std::string& actor) {
  if (service_port(release.release) == 0) {
    return make_error(Errc::invalid_argument,
                      release.target +
                          ": the release's health check names no port, so "
                          "HAProxy would not know where its service listens");
  }
  Rollout rollout;
  rollout.id = id;
  rollout.app = release.app;
  rollout.version = release.version;
  rollout.target = release.target;
  rollout.sha256 = release.sha256;
  rollout.urgency = release.urgency;
  rollout.release = release.release;
  rollout.emergency = release.emergency;
  rollout.created_at = ports_.clock->now();
  std::set<std::string> wanted(regions.begin(), regions.end());
  for (const auto& name : wanted) {
    if (policy.find(name) == nullptr) {
      return make_error(Errc::not_found, "region '" + name + "' is not in the fleet policy");
    }
  }
  // An honoured emergency may take every region in one wave, if the policy says so.
  bool one_wave = is_emergency(rollout) && policy.emergency_single_wave;
  for (const auto& wave : policy.waves()) {
    for (const fleet::Region* region : wave) {
      if (!wanted.empty() && wanted.count(region->name) == 0) continue;
      RegionRun run;
      run.region = region->name;
      run.wave = one_wave ? 1 : region->wave;
      run.backend = region->backend;
      run.count = region->servers;
      run.state_since = rollout.created_at;
      rollout.regions.push_back(std::move(run));
    }
  }
  if (rollout.regions.empty()) {
    return make_error(Errc::invalid_argument, "the fleet policy has no regions to roll out to");
  }
  json::Value names = json::Value::array();
  for (const auto& run : rollout.regions) names.push_back(run.region);
  PW_TRY(ports_.records->save_audited(rollout, {actor,
                                                "rollout.create",
                                                {{"rollout", id},
                                                 {"target", release.target},
                                                 {"sha256", release.sha256},
                                                 {"urgency", release.urgency},
                                                 {"regions", names}},
                                                "ok"}));
  if (one_wave && policy.waves().size() > 1) {
    PW_TRY(ports_.records->audit(
        actor, "rollout.shortcut",
        {{"rollout", id}, {"shortcut", "all regions in one wave (emergency policy)"}}, "ok"));
  }
  return rollout;
}

std::vector<Weight> Engine::steady_weights(const std::vector<ServerRef>& serving) const {
  std::vector<Weight> out;
  if (serving.empty()) return out;
  int each = std::max(1, options_.full_weight / static_cast<int>(serving.size()));
  for (const auto& server : serving) out.push_back({server.name, server.service, each});
  return out;
}

std::vector<Weight> Engine::weights(const RegionRun& run, int percent) const {
  // Per-server weights whose sums split the region's traffic percent : 100 - percent
  // between the fresh and the previous servers, as exactly as HAProxy's integer weights
  // allow: the side with the larger share per server gets full_weight, the other its
  // proportion of it (at least 1 while its share is above 0). Dividing the full weight
  // by the server count instead would round a 10% step on 100 servers to weight 1 each,
  // i.e. 33%.
  const auto fresh_n = static_cast<long>(run.fresh.size());
  const auto previous_n = static_cast<long>(run.previous.size());
  const long full = options_.full_weight;
  long fresh_each = 0, previous_each = 0;
  if (previous_n == 0) {
    fresh_each = percent > 0 ? full : 0;
  } else if (fresh_n == 0) {
    previous_each = percent < 100 ? full : 0;
  } else {
    const long fresh_share = static_cast<long>(percent) * previous_n;        // per fresh server
    const long previous_share = static_cast<long>(100 - percent) * fresh_n;  // per old server
    const long top = std::max(fresh_share, previous_share);
    auto scaled = [&](long share) {
      return share <= 0 ? 0L : std::max(1L, (full * share + top / 2) / top);
    };
    fresh_each = scaled(fresh_share);
    previous_each = scaled(previous_share);
  }
  std::vector<Weight> out;
  for (const auto& s : run.previous) {
    out.push_back({s.name, s.service, static_cast<int>(previous_each)});
  }
  for (const auto& s : run.fresh) out.push_back({s.name, s.service, static_cast<int>(fresh_each)});
  return out;
}

bool Engine::reapply(Rollout& rollout, RegionRun& run) {
  (void)rollout;
  switch (run.state) {
    case RegionState::shifting:
      run.action.clear();  // the step starts over: its weights and a fresh baseline
      return true;
    case RegionState::baking:
    case RegionState::finalizing:
      (void)ports_.traffic->apply(run.backend, weights(run, 100));
      return true;
    case RegionState::rolling_back:
      run.action = "restore";  // old servers to full weight, new ones out (idempotent)
      return true;
    default:
      return false;
  }
}

bool Engine::drives(const Rollout& rollout, const std::string& region) {
  return ports_.leases == nullptr || ports_.leases->drives(rollout.id, region);
}

Status Engine::fence(const Ctx& ctx) {
  if (ports_.leases == nullptr) return Ok{};
  return ports_.leases->fence(ctx.rollout.id, ctx.run.region);
}

Status Engine::tick(Rollout& rollout, const fleet::Policy& policy) {
  PW_TRY_ASSIGN(auto commands, ports_.records->commands(rollout.id));
  for (const auto& command : commands) {
    // A region's command is applied by the process driving the region (one for every
    // region is split into one per region when it is queued: controller/rollouts.cpp);
    // one for a finished region by the rollout's driver, where it changes nothing.
    const RegionRun* target = rollout.find(command.region);
    bool mine = target != nullptr && !terminal(target->state) ? drives(rollout, command.region)
                                                              : drives(rollout, "");
    if (!mine) continue;
    std::string outcome = "ok";
    PW_TRY(apply_command(rollout, command, outcome));
    PW_TRY(ports_.records->save(rollout));
    PW_TRY(ports_.records->command_done(command, outcome));
    PW_TRY(ports_.records->audit(command.actor, "rollout." + command.verb,
                                 {{"rollout", rollout.id}, {"region", command.region}}, outcome));
  }
  if (terminal(rollout.state)) return Ok{};
  if (rollout.state == RolloutState::pending) {
    if (!drives(rollout, "")) return Ok{};
    PW_TRY(transition(rollout, RolloutState::running));
    PW_TRY(ports_.records->save_audited(
        rollout, {"controller", "rollout.running", {{"rollout", rollout.id}}, "ok"}));
  }
  Millis now = ports_.clock->now();

  // A region that rolled back on its own halts what has not started, if its policy says so.
  std::string halted_by;
  for (const auto& run : rollout.regions) {
    const fleet::Region* region = policy.find(run.region);
    bool halts = region == nullptr || region->failure_policy != "continue";
    if (failed(run.state) && halts) halted_by = run.region;
  }
  int current_wave = 0;
  for (const auto& run : rollout.regions) {
    if (!terminal(run.state) && (current_wave == 0 || run.wave < current_wave)) {
      current_wave = run.wave;
    }
  }
  int in_progress = 0;
  for (const auto& run : rollout.regions) {
    if (!terminal(run.state) && run.state != RegionState::pending) ++in_progress;
  }
  for (auto& run : rollout.regions) {
    if (run.state != RegionState::pending || run.paused) continue;
    // Driven elsewhere: that process starts it. (Two processes may each start one in
    // the same instant: max_parallel can be passed by one region per process.)
    if (!drives(rollout, run.region)) continue;
    if (!halted_by.empty()) {
      const RegionRun* by = rollout.find(halted_by);
      std::string what = name(by->state);
      std::replace(what.begin(), what.end(), '_', ' ');
      run.reason = "not started: region " + halted_by + " " + what + " (failure_policy: halt)";
      PW_TRY(transition(run, RegionState::aborted, now));
      PW_TRY(ports_.records->save_audited(
          rollout, region_move(rollout, run, RegionState::pending, run.reason)));
      continue;
    }
    if (run.wave != current_wave || in_progress >= options_.max_parallel) continue;
    ++in_progress;
    PW_TRY(transition(run, RegionState::awaiting_approval, now));
    PW_TRY(ports_.records->save_audited(
        rollout, region_move(rollout, run, RegionState::pending,
                             "wave " + std::to_string(current_wave) + " started")));
  }

  for (auto& run : rollout.regions) {
    if (terminal(run.state) || run.state == RegionState::pending || run.paused) continue;
    if (!drives(rollout, run.region)) continue;
    const fleet::Region* region = policy.find(run.region);
    static const fleet::Region kGone{};
    const fleet::Region& spec = region != nullptr ? *region : kGone;
    const fleet::Timing& timing = is_emergency(rollout) ? spec.emergency_timing : spec.timing;
    const json::Value& health = rollout.release.value("health", json::Value::object());
    Ctx ctx{rollout, run, policy, spec, timing, ports_.clock->now()};
    ctx.port = service_port(rollout.release);
    ctx.health_interval = std::max<Millis>(100, health.value("interval_ms", std::int64_t{1000}));
    ctx.successes = std::max<std::uint32_t>(
        timing.health_successes, static_cast<std::uint32_t>(health.value("successes", 1)));
    if (region == nullptr && run.state != RegionState::rolling_back) {
      wake_ = std::min(wake_, ctx.now);
      if (run.state == RegionState::awaiting_approval) {
        run.reason = "the region left the fleet policy";
        PW_TRY(move(ctx, RegionState::aborted, run.reason));
        continue;
      }
      PW_TRY(begin_rollback(ctx, "the region left the fleet policy"));
      continue;
    }
    Status advanced = advance(ctx);
    // A region that said it only waits (and did not move) is left alone until then.
    wake_ = std::min(wake_, advanced.ok() && ctx.quiet_until > ctx.now ? ctx.quiet_until : ctx.now);
    PW_TRY(advanced);
  }
  if (!drives(rollout, "")) return Ok{};
  finish_rollout(rollout);
  if (terminal(rollout.state)) {
    PW_TRY(ports_.records->save_audited(rollout,
                                        {"controller",
                                         "rollout.finished",
                                         {{"rollout", rollout.id}, {"state", name(rollout.state)}},
                                         name(rollout.state)}));
    json::Value regions = json::Value::object();
    for (const auto& run : rollout.regions) regions[run.region] = name(run.state);
    PW_TRY(ports_.records->notify("rollout.finished",
                                  {{"rollout", rollout.id},
                                   {"app", rollout.app},
                                   {"version", rollout.version},
                                   {"state", name(rollout.state)},
                                   {"regions", regions}},
                                  "Patchwave: rollout " + rollout.id + " of " +
                                      release_name(rollout) + " finished: " + name(rollout.state)));
  }
  return Ok{};
}

void Engine::finish_rollout(Rollout& rollout) {
  std::size_t succeeded = 0, aborted_by_operator = 0;
  for (const auto& run : rollout.regions) {
    if (!terminal(run.state)) return;
    if (run.state == RegionState::succeeded) ++succeeded;
    bool decided = run.state == RegionState::rejected ||
                   (run.state == RegionState::aborted && run.reason.rfind("aborted by", 0) == 0);
    if (decided) ++aborted_by_operator;
  }
  RolloutState final_state = RolloutState::partially_failed;
  if (succeeded == rollout.regions.size()) {
    final_state = RolloutState::succeeded;
  } else if (succeeded == 0) {
    final_state = aborted_by_operator > 0 ? RolloutState::aborted : RolloutState::rolled_back;
  }
  (void)transition(rollout, final_state);
}

Status Engine::apply_command(Rollout& rollout, const Command& command, std::string& outcome) {
  Millis now = ports_.clock->now();
  std::vector<RegionRun*> targets;
  for (auto& run : rollout.regions) {
    if (command.region.empty() || run.region == command.region) targets.push_back(&run);
  }
  if (targets.empty()) {
    outcome = "refused: the rollout has no region " + command.region;
    return Ok{};
  }
  std::vector<std::string> skipped;
  for (RegionRun* run : targets) {
    if (terminal(run->state)) continue;
    if (command.verb == "pause") {
      run->paused = true;
    } else if (command.verb == "resume") {
      if (!run->paused) continue;
      run->paused = false;
      // Time spent paused counts towards no wait and no timeout; a step starts over.
      run->state_since = now;
      if (run->state == RegionState::shifting) run->action.clear();
    } else if (command.verb == "abort") {
      std::string reason = "aborted by " + command.actor;
      if (run->state == RegionState::pending || run->state == RegionState::awaiting_approval) {
        run->reason = reason;
        PW_TRY(transition(*run, RegionState::aborted, now));
      } else if (run->state == RegionState::finalizing) {
        skipped.push_back(run->region + " (already retiring its old servers)");
      } else if (run->state == RegionState::rolling_back) {
        run->rollback_to = RegionState::aborted;
      } else {
        run->paused = false;
        run->rollback_to = RegionState::aborted;
        run->reason = reason;
        PW_TRY(transition(*run, RegionState::rolling_back, now));
      }
    } else if (command.verb == "rollback") {
      if (run->state == RegionState::shifting || run->state == RegionState::baking) {
        run->paused = false;
        run->reason = "rollback requested by " + command.actor;
        PW_TRY(transition(*run, RegionState::rolling_back, now));
      } else {
        skipped.push_back(run->region + " (" + name(run->state) + ")");
      }
    } else {
      outcome = "refused: unknown command " + command.verb;
      return Ok{};
    }
  }
  if (!skipped.empty()) {
    outcome = "ok; not applicable to:";
    for (const auto& s : skipped) outcome += " " + s;
  }
  return Ok{};
}

Status Engine::save_action(Ctx& ctx, const std::string& action) {
  ctx.run.action = action;
  return ports_.records->save(ctx.rollout);
}

Status Engine::move(Ctx& ctx, RegionState to, const std::string& detail) {
  RegionState from = ctx.run.state;
  // The instant of the transition, not of the tick's start: actions before it (starting
  // services, checking health) take time that must not count against the next state.
  ctx.now = ports_.clock->now();
  PW_TRY(transition(ctx.run, to, ctx.now));
  PW_TRY(ports_.records->save_audited(
      ctx.rollout, region_move(ctx.rollout, ctx.run, from, detail.empty() ? "ok" : detail)));
  const char* event = nullptr;
  if (to == RegionState::succeeded) event = "region.succeeded";
  if (to == RegionState::rolled_back ||
      (to == RegionState::aborted && from != RegionState::pending &&
       from != RegionState::awaiting_approval)) {
    event = "region.rolled_back";
  }
  if (to == RegionState::rejected) event = "approval.rejected";
  if (to == RegionState::expired) event = "approval.expired";
  if (event == nullptr) return Ok{};
  std::string text = "Patchwave: " + release_name(ctx.rollout) + " in region " + ctx.run.region +
                     ": " + name(to) + (detail.empty() ? "" : " (" + detail + ")") + "; rollout " +
                     ctx.rollout.id;
  return ports_.records->notify(event,
                                {{"rollout", ctx.rollout.id},
                                 {"region", ctx.run.region},
                                 {"app", ctx.rollout.app},
                                 {"version", ctx.rollout.version},
                                 {"state", name(to)},
                                 {"detail", detail}},
                                text);
}

}  // namespace pw::rollout
