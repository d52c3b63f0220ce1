// One region's path through a rollout: what each state does on a tick (engine.hpp).
#include <algorithm>
#include <exception>
#include <optional>
#include <set>
#include <thread>

#include "orchestrator/rollout/context.hpp"
#include "orchestrator/traffic/analysis.hpp"

namespace pw::rollout {
namespace {

Millis elapsed(Millis now, Millis since) { return now > since ? now - since : 0; }

std::string seconds(Millis ms) { return std::to_string((ms + 999) / 1000) + "s"; }

json::Value stats_json(const std::vector<traffic::ServerStat>& stats) {
  json::Value out = json::Value::array();
  for (const auto& s : stats) {
    out.push_back({{"server", s.server},
                   {"status", s.status},
                   {"weight", s.weight},
                   {"stot", s.sessions_total},
                   {"hrsp_2xx", s.responses_2xx},
                   {"hrsp_5xx", s.responses_5xx},
                   {"econ", s.connection_errors},
                   {"eresp", s.response_errors},
                   {"srv_abrt", s.server_aborts},
                   {"rtime", s.response_time_ms}});
  }
  return out;
}

std::vector<traffic::ServerStat> stats_from(const json::Value& value) {
  std::vector<traffic::ServerStat> out;
  if (!value.is_array()) return out;
  for (const auto& s : value) {
    traffic::ServerStat stat;
    stat.server = s.value("server", "");
    stat.status = s.value("status", "");
    stat.weight = s.value("weight", std::uint64_t{0});
    stat.sessions_total = s.value("stot", std::uint64_t{0});
    stat.responses_2xx = s.value("hrsp_2xx", std::uint64_t{0});
    stat.responses_5xx = s.value("hrsp_5xx", std::uint64_t{0});
    stat.connection_errors = s.value("econ", std::uint64_t{0});
    stat.response_errors = s.value("eresp", std::uint64_t{0});
    stat.server_aborts = s.value("srv_abrt", std::uint64_t{0});
    stat.response_time_ms = s.value("rtime", std::uint64_t{0});
    out.push_back(std::move(stat));
  }
  return out;
}

// fn(server) for every server on the engine's workers (at most kWorkers at a time),
// results in the servers' order: a region's servers are started and checked together,
// not one after another (an agent answers a start only once the service has come up).
template <typename F>
auto each_server(Workers& workers, const std::vector<ServerRef>& servers, F fn) {
  using T = decltype(fn(servers.front()));
  std::vector<std::optional<T>> results(servers.size());
  std::vector<std::exception_ptr> thrown(servers.size());
  workers.run_all(servers.size(), [&](std::size_t i) {
    try {
      results[i].emplace(fn(servers[i]));
    } catch (...) {
      thrown[i] = std::current_exception();  // rethrown in the engine's thread, as before
    }
  });
  for (auto& e : thrown) {
    if (e) std::rethrow_exception(e);
  }
  std::vector<T> out;
  out.reserve(servers.size());
  for (auto& result : results) out.push_back(std::move(*result));
  return out;
}

std::vector<std::string> names_of(const std::vector<ServerRef>& servers) {
  std::vector<std::string> out;
  for (const auto& s : servers) out.push_back(s.name);
  return out;
}

}  // namespace

Status Engine::advance(Ctx& ctx) {
  switch (ctx.run.state) {
    case RegionState::awaiting_approval:
      return on_awaiting_approval(ctx);
    case RegionState::provisioning:
      return on_provisioning(ctx);
    case RegionState::staging:
      return on_staging(ctx);
    case RegionState::verifying:
      return on_verifying(ctx);
    case RegionState::shifting:
      return on_shifting(ctx);
    case RegionState::baking:
      return on_baking(ctx);
    case RegionState::finalizing:
      return on_finalizing(ctx);
    case RegionState::rolling_back:
      return on_rolling_back(ctx);
    default:
      return Ok{};
  }
}

Status Engine::on_provisioning(Ctx& ctx) {
  RegionRun& run = ctx.run;
  if (run.action.empty()) {
    // What is in service now is what this rollout replaces: recorded before anything
    // is created, so a restart does not mistake the new servers for old ones.
    auto serving = ports_.fleet->serving(run.region);
    if (!serving.ok()) return begin_rollback(ctx, serving.error().to_string());
    run.previous = *serving;
    run.first_deployment = run.previous.empty();
    for (auto& server : run.previous) {
      if (server.service.empty())
        server.service = host_of(server.agent) + ":" + std::to_string(ctx.port);
    }
    PW_TRY(save_action(ctx, "provision"));
  }
  if (run.action == "provision") {
    PW_TRY(fence(ctx));
    auto made = ports_.fleet->provision(run.region, ctx.rollout.id, run.count);
    if (!made.ok()) return begin_rollback(ctx, "provisioning failed: " + made.error().to_string());
    run.fresh = *made;
    for (auto& server : run.fresh) {
      server.service = host_of(server.agent) + ":" + std::to_string(ctx.port);
    }
    PW_TRY(save_action(ctx, "enroll"));
  }
  std::size_t enrolled = 0;
  std::string missing;  // the first few that have not enrolled, named in a rollback
  for (const auto& server : run.fresh) {
    auto done = ports_.fleet->enrolled(server.name);
    if (done.ok() && *done) {
      ++enrolled;
    } else if (missing.size() < 200) {
      missing += (missing.empty() ? "" : ", ") + server.name;
    }
  }
  if (enrolled == run.fresh.size()) {
    return move(ctx, RegionState::staging, std::to_string(enrolled) + " fresh servers enrolled");
  }
  if (elapsed(ctx.now, run.state_since) > options_.provision_timeout) {
    return begin_rollback(ctx, std::to_string(run.fresh.size() - enrolled) + " of " +
                                   std::to_string(run.fresh.size()) +
                                   " servers did not enroll within " +
                                   seconds(options_.provision_timeout) + " (" + missing + ")");
  }
  return Ok{};
}

Status Engine::on_staging(Ctx& ctx) {
  RegionRun& run = ctx.run;
  if (run.action.empty()) PW_TRY(save_action(ctx, "stage"));
  if (run.action == "stage") {
    std::size_t staged = 0;
    std::string waiting;
    PW_TRY(fence(ctx));
    auto reports = each_server(*workers_, run.fresh, [&](const ServerRef& server) {
      return ports_.agents->stage(server, ctx.rollout.sha256);
    });
    for (std::size_t i = 0; i < run.fresh.size(); ++i) {
      const auto& server = run.fresh[i];
      auto& report = reports[i];
      if (!report.ok()) {
        waiting = server.name + ": " + report.error().to_string();
        continue;
      }
      if (report->state == StageState::failed) {
        return begin_rollback(ctx, server.name + ": staging failed: " + report->detail);
      }
      if (report->state == StageState::staged) {
        ++staged;
      } else {
        waiting = server.name + ": " + report->detail;
      }
    }
    if (staged < run.fresh.size()) {
      if (elapsed(ctx.now, run.state_since) > options_.stage_timeout) {
        return begin_rollback(ctx, std::to_string(run.fresh.size() - staged) + " of " +
                                       std::to_string(run.fresh.size()) +
                                       " servers did not stage the release within " +
                                       seconds(options_.stage_timeout) + " (" + waiting + ")");
      }
      return Ok{};
    }
    PW_TRY(save_action(ctx, "start"));
  }
  PW_TRY(fence(ctx));
  std::vector<Status> started;
  if (options_.background_start) {
    // Every server's start on a thread of its own (they wait, they do not work); the
    // answers are looked for on the next ticks. A restarted engine asks again (a start
    // of a running service is a no-op).
    Agents* agents = ports_.agents;
    std::vector<ServerRef> servers = run.fresh;
    std::string sha256 = ctx.rollout.sha256;
    std::uint16_t port = ctx.port;
    auto answers = background_->poll(
        ctx.rollout.id + "\n" + run.region,
        [agents, servers, sha256, port] {
          std::vector<std::thread> threads;
          BackgroundCalls::Results results(servers.size(), Status(Ok{}));
          for (std::size_t i = 0; i < servers.size(); ++i) {
            threads.emplace_back([&, i] {
              try {
                results[i] = agents->start(servers[i], sha256, port);
              } catch (const std::exception& e) {
                results[i] = make_error(Errc::internal, e.what());
              }
            });
          }
          for (auto& t : threads) t.join();
          return results;
        },
        std::chrono::milliseconds(20));
    if (!answers) return Ok{};  // the agents are starting the services
    started = std::move(*answers);
  } else {
    started = each_server(*workers_, run.fresh, [&](const ServerRef& server) {
      return ports_.agents->start(server, ctx.rollout.sha256, ctx.port);
    });
  }
  for (std::size_t i = 0; i < run.fresh.size(); ++i) {
    if (!started[i].ok()) {
      return begin_rollback(ctx, run.fresh[i].name + ": the service did not start: " +
                                     started[i].error().to_string());
    }
  }
  run.health_streak.clear();
  run.healthy_once.clear();
  run.last_health = 0;
  return move(ctx, RegionState::verifying, "services started");
}

Result<std::optional<std::string>> Engine::check_health(Ctx& ctx, bool flapping_fails) {
  RegionRun& run = ctx.run;
  if (run.last_health != 0 && elapsed(ctx.now, run.last_health) < ctx.health_interval) {
    return std::optional<std::string>{};
  }
  run.last_health = ctx.now;
  const json::Value& spec = ctx.rollout.release.value("health", json::Value::object());
  std::optional<std::string> failure;
  auto reports = each_server(*workers_, run.fresh, [&](const ServerRef& server) {
    HealthReport report;
    auto agent = ports_.agents->health(server);
    if (!agent.ok()) {
      report.detail = "agent: " + agent.error().to_string();
    } else if (!agent->healthy) {
      report = *agent;
      report.detail = "agent: " + report.detail;
    } else {
      report = ports_.probe->probe(server.service, spec);
      if (!report.healthy) report.detail = "controller: " + report.detail;
    }
    return report;
  });
  bool first_pass = false;
  for (std::size_t i = 0; i < run.fresh.size(); ++i) {
    const auto& server = run.fresh[i];
    const HealthReport& report = reports[i];
    if (report.healthy) {
      ++run.health_streak[server.name];
      first_pass |= !run.healthy_once[server.name];
      run.healthy_once[server.name] = true;
      continue;
    }
    bool flapped = run.healthy_once[server.name];
    run.health_streak[server.name] = 0;
    if (flapped || flapping_fails) {
      return std::optional<std::string>(server.name + " failed its health check" +
                                        (flapped ? " after passing" : "") + ": " + report.detail);
    }
    if (!failure) failure = server.name + ": " + report.detail;
  }
  // The counters are state, saved so that a restarted (or reloading) engine keeps them:
  // while they decide the health gate (verifying), and when a server passes for the first
  // time (which makes a later failure a flap). During traffic steps and the bake
  // (flapping_fails) any failure ends the region at once, so another pass changes
  // nothing a restarted engine needs (it checks again at once): kept, not saved (each
  // save is a synchronous commit; a region's checks came to one a second).
  if (!flapping_fails || first_pass || failure) {
    PW_TRY(ports_.records->save(ctx.rollout));
  } else {
    PW_TRY(ports_.records->keep(ctx.rollout));
  }
  if (failure) return std::optional<std::string>(std::string());
  return std::optional<std::string>{};
}

Status Engine::on_verifying(Ctx& ctx) {
  RegionRun& run = ctx.run;
  PW_TRY_ASSIGN(auto failure, check_health(ctx, false));
  if (failure && !failure->empty()) return begin_rollback(ctx, "health gate: " + *failure);
  bool passed = !run.fresh.empty();
  std::string short_of;  // the servers without enough passing checks, named in a rollback
  for (const auto& server : run.fresh) {
    if (run.health_streak[server.name] < static_cast<int>(ctx.successes)) {
      passed = false;
      short_of += (short_of.empty() ? "" : ", ") + server.name;
    }
  }
  if (passed) {
    run.step = 0;
    run.action.clear();
    return move(ctx, RegionState::shifting,
                "health gate passed: " + std::to_string(ctx.successes) + " checks in a row");
  }
  if (elapsed(ctx.now, run.state_since) > options_.verify_timeout) {
    return begin_rollback(ctx, "health gate: not " + std::to_string(ctx.successes) +
                                   " passing checks in a row within " +
                                   seconds(options_.verify_timeout) + " (" + short_of + ")");
  }
  ctx.quiet(run.last_health + ctx.health_interval);
  ctx.quiet(run.state_since + options_.verify_timeout + 1);
  return Ok{};
}

Status Engine::on_shifting(Ctx& ctx) {
  RegionRun& run = ctx.run;
  const std::string backend = run.backend;
  std::vector<int> steps = ctx.timing.canary_steps;
  if (run.first_deployment || steps.empty()) steps = {100};  // nothing to compare against
  run.step = std::min<int>(run.step, static_cast<int>(steps.size()) - 1);
  int percent = steps[static_cast<std::size_t>(run.step)];
  if (run.action.empty()) {
    PW_TRY(save_action(ctx, "shift:" + std::to_string(percent)));
  }
  if (run.action.rfind("shift:", 0) == 0) {
    PW_TRY(fence(ctx));
    auto applied = ports_.traffic->apply(backend, weights(run, percent));
    if (!applied.ok()) return traffic_trouble(ctx, "traffic", applied.error());
    run.retry.clear();
    run.retry_since = 0;
    auto stats = ports_.traffic->stats(backend);
    run.baseline = stats.ok() ? stats_json(*stats) : json::Value::array();
    run.step_since = ctx.now;
    run.analysis = json::Value::object();
    PW_TRY(save_action(ctx, "analyse:" + std::to_string(percent)));
    PW_TRY(ports_.records->audit("controller", "rollout.traffic",
                                 {{"rollout", ctx.rollout.id},
                                  {"region", run.region},
                                  {"percent", percent},
                                  {"step", run.step}},
                                 "ok"));
  }
  if (run.step_since > ctx.now) run.step_since = ctx.now;  // the clock went back: wait again
  PW_TRY_ASSIGN(auto failure, check_health(ctx, true));
  if (failure) return begin_rollback(ctx, *failure);
  if (elapsed(ctx.now, run.step_since) < ctx.timing.step_wait.count() * 1000) {
    ctx.quiet(run.last_health + ctx.health_interval);
    ctx.quiet(run.step_since + ctx.timing.step_wait.count() * 1000);
    return Ok{};
  }

  auto stats = ports_.traffic->stats(backend);
  if (!stats.ok()) return traffic_trouble(ctx, "analysis", stats.error());
  run.retry.clear();
  run.retry_since = 0;
  std::set<std::string> fresh;
  for (const auto& s : run.fresh) fresh.insert(s.name);
  traffic::Thresholds limits;
  limits.max_error_rate = ctx.timing.max_error_rate;
  limits.min_requests = options_.min_requests;
  limits.max_latency_ratio = options_.max_latency_ratio;
  limits.latency_floor_ms = options_.latency_floor_ms;
  auto verdict = traffic::analyze(stats_from(run.baseline), *stats, fresh, limits);
  run.analysis = {{"step", run.step},
                  {"percent", percent},
                  {"outcome", traffic::outcome_name(verdict.outcome)},
                  {"reason", verdict.reason},
                  {"figures", verdict.figures}};
  if (verdict.outcome == traffic::Outcome::fail) {
    return begin_rollback(ctx, "analysis at " + std::to_string(percent) + "%: " + verdict.reason);
  }
  if (verdict.outcome == traffic::Outcome::inconclusive && !run.first_deployment) {
    Millis limit = ctx.timing.step_wait.count() * 1000 + options_.inconclusive_grace;
    if (elapsed(ctx.now, run.step_since) > limit) {
      return begin_rollback(ctx, "step " + std::to_string(percent) +
                                     "% timed out: analysis "
                                     "inconclusive: " +
                                     verdict.reason);
    }
    return ports_.records->save(ctx.rollout);
  }
  std::string note = "analysis at " + std::to_string(percent) + "%: " + verdict.reason;
  if (run.step + 1 < static_cast<int>(steps.size())) {
    ++run.step;
    return move(ctx, RegionState::shifting, note);
  }
  return move(ctx, RegionState::baking, note);
}

Status Engine::on_baking(Ctx& ctx) {
  RegionRun& run = ctx.run;
  PW_TRY_ASSIGN(auto failure, check_health(ctx, true));
  if (failure) return begin_rollback(ctx, *failure);
  Millis bake = run.first_deployment ? 0 : ctx.timing.bake_time.count() * 1000;
  if (run.state_since > ctx.now) run.state_since = ctx.now;
  if (elapsed(ctx.now, run.state_since) < bake) {
    ctx.quiet(run.last_health + ctx.health_interval);
    ctx.quiet(run.state_since + bake);
    return Ok{};
  }
  // The old servers are retired next: one last check of every new server (its agent
  // included) first, however recently the interval's check ran. A server whose agent
  // died late in the bake would otherwise be kept with nothing to manage it.
  if (run.last_health != ctx.now) {
    run.last_health = 0;
    PW_TRY_ASSIGN(auto last, check_health(ctx, true));
    if (last) return begin_rollback(ctx, *last);
  }
  return move(ctx, RegionState::finalizing, "baked for " + seconds(bake));
}

Status Engine::on_finalizing(Ctx& ctx) {
  RegionRun& run = ctx.run;
  if (run.action.empty()) PW_TRY(save_action(ctx, "retire"));
  PW_TRY(fence(ctx));
  if (!run.previous.empty()) {
    auto removed = ports_.traffic->remove(run.backend, names_of(run.previous));
    if (!removed.ok()) return retry(ctx, "retire", removed.error().to_string());
  }
  // The agents wipe their servers together (each stops its service first: a grace
  // period apiece), best effort: the provider's decommission stops whatever still runs.
  PW_TRY(fence(ctx));
  (void)each_server(*workers_, run.previous,
                    [&](const ServerRef& server) { return ports_.agents->decommission(server); });
  for (const auto& server : run.previous) {
    PW_TRY(fence(ctx));
    auto gone = ports_.fleet->decommission(run.region, server);
    if (!gone.ok()) return retry(ctx, "retire " + server.name, gone.error().to_string());
  }
  PW_TRY(fence(ctx));
  PW_TRY(ports_.fleet->promote(run.region, run.fresh, run.previous));
  return move(ctx, RegionState::succeeded,
              std::to_string(run.fresh.size()) + " servers in service, " +
                  std::to_string(run.previous.size()) + " retired");
}

Status Engine::retry(Ctx& ctx, const std::string& what, const std::string& error) {
  // Retried on every tick; audited when it starts failing or fails differently.
  std::string text = what + ": " + error;
  if (ctx.run.retry == text) return Ok{};
  ctx.run.retry = text;
  PW_TRY(ports_.records->save(ctx.rollout));
  return ports_.records->audit("controller", "rollout.retry",
                               {{"rollout", ctx.rollout.id}, {"region", ctx.run.region}}, text);
}

Status Engine::traffic_trouble(Ctx& ctx, const std::string& what, const Error& error) {
  RegionRun& run = ctx.run;
  if (error.code != Errc::io) return begin_rollback(ctx, what + ": " + error.to_string());
  if (run.retry_since == 0) run.retry_since = ctx.now;
  if (elapsed(ctx.now, run.retry_since) > options_.inconclusive_grace) {
    return begin_rollback(ctx, what + ": " + error.to_string() + " (for " +
                                   seconds(elapsed(ctx.now, run.retry_since)) + ")");
  }
  return retry(ctx, what, error.to_string());
}

Status Engine::begin_rollback(Ctx& ctx, const std::string& reason) {
  RegionRun& run = ctx.run;
  run.reason = reason;
  PW_TRY(move(ctx, RegionState::rolling_back, reason));
  // No waiting for the next tick: the traffic goes back now.
  return on_rolling_back(ctx);
}

Status Engine::on_rolling_back(Ctx& ctx) {
  RegionRun& run = ctx.run;
  if (run.action.empty()) PW_TRY(save_action(ctx, "restore"));
  if (run.action == "restore") {
    // Old servers first get their full weight back, then the new ones get none.
    if (!run.fresh.empty() || !run.previous.empty()) {
      PW_TRY(fence(ctx));
      auto restored = ports_.traffic->apply(run.backend, weights(run, 0));
      if (!restored.ok() && !run.previous.empty()) {
        return retry(ctx, "restore", restored.error().to_string());
      }
      auto removed = ports_.traffic->remove(run.backend, names_of(run.fresh));
      if (!removed.ok() && !run.previous.empty()) {
        return retry(ctx, "restore", removed.error().to_string());
      }
    }
    // When the decision was taken (state_since) and when HAProxy had the old weights
    // back: scripts/bench rollout reads this pair.
    PW_TRY(ports_.records->audit("controller", "rollout.traffic_restored",
                                 {{"rollout", ctx.rollout.id},
                                  {"region", run.region},
                                  {"decided_at_ms", run.state_since},
                                  {"restored_at_ms", ports_.clock->now()}},
                                 "ok"));
    PW_TRY(save_action(ctx, "decommission"));
  }
  // Every server this rollout may have created, by its deterministic name: one whose
  // provisioning was cut short by a crash is gone too.
  std::vector<ServerRef> created = run.fresh;
  for (int index = static_cast<int>(created.size()); index < run.count; ++index) {
    created.push_back({run.region + "-" + ctx.rollout.id + "-" + std::to_string(index), "", ""});
  }
  PW_TRY(fence(ctx));
  (void)each_server(*workers_, run.fresh, [&](const ServerRef& server) {
    return server.agent.empty() ? Status(Ok{}) : ports_.agents->decommission(server);
  });
  for (const auto& server : created) {
    PW_TRY(fence(ctx));
    auto gone = ports_.fleet->decommission(run.region, server);
    if (!gone.ok()) return retry(ctx, "decommission " + server.name, gone.error().to_string());
  }
  RegionState final_state = run.rollback_to;
  return move(ctx, final_state, run.reason);
}

}  // namespace pw::rollout
