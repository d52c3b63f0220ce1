#include "orchestrator/controller/rollouts.hpp"

#include <algorithm>
#include <set>

#include "common/crypto/hash.hpp"
#include "common/log/log.hpp"
#include "orchestrator/api/requests.hpp"
#include "orchestrator/controller/replies.hpp"
#include "orchestrator/controller/sync.hpp"
#include "orchestrator/rollout/plan.hpp"

namespace pw::controller {
namespace {

rollout::Options options_of(const Config& config) {
  rollout::Options o;
  o.provision_timeout = config.provision_timeout.count() * 1000;
  o.stage_timeout = config.stage_timeout.count() * 1000;
  o.verify_timeout = config.health_timeout.count() * 1000;
  o.inconclusive_grace = config.inconclusive_grace.count() * 1000;
  o.min_requests = config.min_requests;
  o.max_parallel = config.max_parallel;
  o.background_start = true;  // the loop goes on with other regions while agents start
  return o;
}

LeaseOptions lease_options(const Config& config) {
  LeaseOptions o;
  o.replica = config.replica_id;
  o.url = config.url();
  o.ttl = std::chrono::duration_cast<std::chrono::milliseconds>(config.lease);
  o.margin = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(200), o.ttl / 10);
  return o;
}

// The states in which a region's traffic is the rollout's business, not the steady
// weights of its servers in service.
bool traffic_in_rollout(rollout::RegionState state) {
  using S = rollout::RegionState;
  return state == S::shifting || state == S::baking || state == S::finalizing ||
         state == S::rolling_back;
}

}  // namespace

Rollouts::Rollouts(const Config& config, store::Store& store, std::mutex& store_mutex,
                   const ca::ControllerCa& ca, net::TlsFiles tls, std::string controller_url)
    : config_(&config),
      store_(&store),
      store_mutex_(&store_mutex),
      servers_(config, store, ca),
      records_(store, store_mutex),
      fleet_(servers_, store, store_mutex),
      agents_(std::move(tls), std::move(controller_url), store, store_mutex),
      traffic_(config),
      leases_(store, store_mutex, lease_options(config)),
      engine_(rollout::Ports{&clock_, &fleet_, &agents_, &probe_, &traffic_, &records_, &leases_},
              options_of(config)) {
  records_.set_leases(&leases_);
  leases_.start();
  // A replica's heartbeat is due every third of its lease, from the loop's tick.
  idle_recheck_ = std::min(std::chrono::milliseconds(1000),
                           std::chrono::duration_cast<std::chrono::milliseconds>(config.lease) / 4);
}

Result<std::shared_ptr<const Rollouts::Policy>> Rollouts::policy(bool fresh) {
  std::lock_guard cache_lock(policy_mutex_);  // the engine loop and the API both ask
  auto now = Steady::now();
  bool synced_here = policy_synced_.exchange(false);
  if (!fresh && !synced_here && policy_ && now - policy_checked_ < idle_recheck_) {
    return policy_;
  }
  policy_checked_ = now;
  std::string synced, text;
  {
    std::lock_guard lock(*store_mutex_);
    PW_TRY_ASSIGN(synced, last_sync_mark(*store_));
    // The policy's text is read and parsed only after a new sync.
    if (policy_ && synced == policy_sync_) return policy_;
    PW_TRY_ASSIGN(text, last_fleet_text(*store_));
  }
  json::ParseLimits limits;
  limits.max_bytes = 64u << 20;
  limits.allow_floats = true;  // max_error_rate; this JSON is never signed
  PW_TRY_ASSIGN(json::Value fleet, json::parse(text, limits));
  if (fleet.is_null()) {
    return make_error(Errc::not_found, "the manifests hold no verified fleet policy yet");
  }
  const json::Value& source = fleet.value("source", json::Value::object());
  PW_TRY_ASSIGN(auto typed,
                fleet::parse_policy(source.value("yaml", ""), source.value("target", "fleet")));
  policy_ = std::make_shared<const Policy>(Policy{std::move(typed), std::move(fleet)});
  policy_sync_ = synced;
  return policy_;
}

Result<rollout::ReleaseInfo> Rollouts::find_release(const std::string& app,
                                                    const std::string& version,
                                                    std::string* countersignature) {
  json::Value last;
  {
    std::lock_guard lock(*store_mutex_);
    PW_TRY_ASSIGN(last, last_sync(*store_));
  }
  if (last.is_null()) return make_error(Errc::not_found, "no verified manifests yet");
  PW_TRY(check_unexpired(last, std::chrono::system_clock::now()));
  std::vector<rollout::ReleaseInfo> found;
  for (auto it = last["targets"].begin(); it != last["targets"].end(); ++it) {
    const json::Value& entry = it.value();
    if (!entry.contains("release")) continue;
    const json::Value& release = entry["release"];
    if (release.value("app", "") != app || release.value("version", "") != version) continue;
    rollout::ReleaseInfo info;
    info.app = app;
    info.version = version;
    info.target = it.key();
    info.sha256 = entry["hashes"].value("sha256", "");
    info.urgency = release.value("urgency", "routine");
    info.release = release;
    if (countersignature != nullptr) *countersignature = entry.value("countersignature", "");
    found.push_back(std::move(info));
  }
  if (found.empty()) {
    return make_error(Errc::not_found, app + "@" + version +
                                           ": no verified release of that app and version in "
                                           "the manifests");
  }
  if (found.size() > 1) {
    return make_error(Errc::conflict, app + "@" + version + ": " + std::to_string(found.size()) +
                                          " targets describe that release; name one");
  }
  return found.front();
}

void Rollouts::policy_synced() { policy_synced_ = true; }

void Rollouts::tick() {
  std::lock_guard engine_lock(engine_mutex_);
  auto fetched = policy(false);
  if (!fetched.ok()) return;
  const Policy& current = **fetched;
  if (policy_in_fleet_ != *fetched) {
    fleet_.set_policy(current.json);
    traffic_.set_policy(current.json);
    policy_in_fleet_ = *fetched;
  }
  auto restarted = traffic_.ensure_running();
  if (!restarted.ok()) {
    if (restarted.error().to_string() != last_error_) {
      last_error_ = restarted.error().to_string();
      log::error("haproxy_unavailable", {{"error", last_error_}});
    }
  }
  bool restart = (restarted.ok() && *restarted) || !traffic_reconciled_;
  // The engine runs when something is due (Engine::wake: a health check, the end of a
  // step, a busy region), when a rollout was written or a command queued here, and at
  // least every idle_recheck_ (other replicas' writes, leases); not ten times a second
  // while every region waits out a step.
  auto now = Steady::now();
  std::uint64_t commands = records_.commands_queued();
  if (!restart && records_.writes() == seen_writes_ && commands == seen_commands_ &&
      now < next_due_) {
    return;
  }
  next_due_ = now;  // an error below: again at the next turn of the loop
  auto active = records_.load(true);
  if (!active.ok()) {
    log::error("rollouts_unreadable", {{"error", active.error().to_string()}});
    return;
  }
  // Every unfinished region wants a driver, and every unfinished rollout one for its
  // own record; the leases say which of them this replica drives.
  std::set<StoreLeases::Key> wanted;
  for (const auto& r : *active) {
    wanted.insert({r.id, ""});
    for (const auto& run : r.regions) {
      if (!rollout::terminal(run.state)) wanted.insert({r.id, run.region});
    }
  }
  leases_.begin_tick(wanted);
  if (restart) {
    reapply_traffic(current, *active);
  }
  engine_.begin_round();
  bool failed = false;
  for (auto& r : *active) {
    auto ticked = engine_.tick(r, current.typed);
    if (!ticked.ok()) {
      failed = true;
      log::error("rollout_tick_failed", {{"rollout", r.id}, {"error", ticked.error().to_string()}});
    }
  }
  // The engine's own writes do not wake it (start() writes under engine_mutex_ too, so
  // none of its rollouts can be written between the tick and here).
  seen_writes_ = records_.writes();
  seen_commands_ = commands;
  auto wait = std::chrono::milliseconds(0);
  if (!failed && engine_.wake() != rollout::Engine::kNever) {
    wait = std::chrono::milliseconds(std::max<rollout::Millis>(0, engine_.wake() - clock_.now()));
  } else if (!failed) {
    wait = idle_recheck_;
  }
  next_due_ = now + std::min(wait, idle_recheck_);
}

void Rollouts::reapply_traffic(const Policy& policy, std::vector<rollout::Rollout>& active) {
  // After HAProxy (re)starts it knows no servers: each region gets back what it should
  // have. Regions in a rollout start their step over (a fresh baseline); the others get
  // their servers in service at full weight.
  std::set<std::string> in_rollout;
  bool ok = true;
  for (auto& r : active) {
    for (auto& run : r.regions) {
      if (!traffic_in_rollout(run.state)) continue;
      in_rollout.insert(run.region);
      // Its driver puts it back (another replica's, if that one drives it).
      if (leases_.drives(r.id, run.region)) engine_.reapply(r, run);
    }
    ok = records_.save(r).ok() && ok;
  }
  for (const auto& region : policy.typed.regions) {
    if (in_rollout.count(region.name)) continue;
    auto serving = fleet_.serving(region.name);
    if (!serving.ok()) {
      ok = false;
      continue;
    }
    auto weights = engine_.steady_weights(*serving);
    if (!weights.empty() && !traffic_.apply(region.backend, weights).ok()) ok = false;
  }
  traffic_reconciled_ = ok;
}

net::Response Rollouts::handle(const net::Request& request, const std::string& path,
                               const std::string& role, const std::string& who) {
  auto parsed = api::parse_object(request.body, true);
  if (!parsed.ok()) return error_reply(400, "parse", "request body: expected a JSON object");
  const json::Value& body = *parsed;
  const std::string prefix = "/v1/rollouts";
  std::string rest = path.substr(prefix.size());
  if (rest == "/plan" && request.method == "POST") return plan(body);
  if (rest.empty() && request.method == "POST") {
    if (role != "release-engineer") {
      return error_reply(403, "permission", "starting a rollout needs the release-engineer role");
    }
    return start(body, "operator:" + who);
  }
  if (rest.empty() && request.method == "GET") {
    auto all = records_.load(false);
    if (!all.ok()) return error_reply(all.error());
    json::Value list = json::Value::array();
    for (const auto& r : *all) list.push_back(r.to_json());
    return reply(200, {{"rollouts", list}});
  }
  if (rest.size() < 2 || rest[0] != '/') return error_reply(404, "not_found", "no such endpoint");
  auto slash = rest.find('/', 1);
  std::string id = rest.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  if (slash == std::string::npos) {
    if (request.method != "GET") return error_reply(405, "method", "use GET");
    auto one = records_.load_one(id);
    if (!one.ok()) return error_reply(one.error());
    if (!*one) return error_reply(404, "not_found", "no rollout " + id);
    return reply(200, (*one)->detail_json());
  }
  if (request.method != "POST") return error_reply(405, "method", "use POST");
  if (role != "release-engineer") {
    return error_reply(403, "permission", "changing a rollout needs the release-engineer role");
  }
  return command(id, rest.substr(slash + 1), body, "operator:" + who);
}

net::Response Rollouts::plan(const json::Value& body) {
  auto asked = api::rollout_request(body);
  if (!asked.ok()) return error_reply(asked.error());
  auto current = policy();
  if (!current.ok()) return error_reply(409, "conflict", current.error().to_string());
  std::string countersignature;
  auto release = find_release(asked->app, asked->version, &countersignature);
  if (!release.ok()) return error_reply(release.error());
  std::string emergency_problem;
  json::Value emergency;
  if (release->urgency == "emergency") {
    auto checked = check_countersignatures(*release, countersignature, (*current)->typed);
    if (checked.ok()) emergency = *checked;
    if (!checked.ok()) {
      // A dry run says what `start` would refuse, and plans the routine path.
      emergency_problem = checked.error().message;
      release->urgency = "routine";
    }
  }
  const auto& wanted = asked->regions;
  std::map<std::string, std::vector<rollout::ServerRef>> serving;
  for (const auto& region : (*current)->typed.regions) {
    auto list = fleet_.serving(region.name);
    if (list.ok()) serving[region.name] = *list;
  }
  auto made = rollout::plan((*current)->typed, *release, wanted, serving, engine_.options());
  if (!made.ok()) return error_reply(made.error());
  if (!emergency.is_null()) (*made)["emergency"] = emergency;
  if (!emergency_problem.empty()) (*made)["emergency_refused"] = emergency_problem;
  return reply(200, *made);
}

net::Response Rollouts::start(const json::Value& body, const std::string& who) {
  auto asked = api::rollout_request(body);
  if (!asked.ok()) return error_reply(asked.error());
  auto current = policy();
  if (!current.ok()) return error_reply(409, "conflict", current.error().to_string());
  std::string countersignature;
  auto release = find_release(asked->app, asked->version, &countersignature);
  if (!release.ok()) return error_reply(release.error());
  if (release->urgency == "emergency") {
    auto honoured =
        honour_emergency(*release, countersignature, (*current)->typed, asked->routine, who);
    if (!honoured.ok()) return error_reply(honoured.error());
  }
  const auto& wanted = asked->regions;
  std::lock_guard engine_lock(engine_mutex_);
  auto active = records_.load(true);
  if (!active.ok()) return error_reply(active.error());
  for (const auto& region : (*current)->typed.regions) {
    bool included =
        wanted.empty() || std::find(wanted.begin(), wanted.end(), region.name) != wanted.end();
    if (!included) continue;
    if (config_->traffic_mode == "managed" && !config_->frontends.count(region.name)) {
      return error_reply(400, "invalid_argument",
                         "traffic.frontends: the controller configuration has no frontend "
                         "for region " +
                             region.name);
    }
    for (const auto& r : *active) {
      for (const auto& run : r.regions) {
        if (run.region == region.name && !rollout::terminal(run.state)) {
          return error_reply(409, "conflict",
                             "region " + region.name + " is in rollout " + r.id + " already");
        }
      }
    }
  }
  auto suffix = crypto::random_hex(4);
  if (!suffix.ok()) return error_reply(suffix.error());
  auto made = engine_.create("r" + *suffix, *release, (*current)->typed, wanted, who);
  if (!made.ok()) return error_reply(made.error());
  return reply(201, made->detail_json());
}

net::Response Rollouts::command(const std::string& id, const std::string& verb,
                                const json::Value& body, const std::string& who) {
  static const std::set<std::string> verbs = {"pause", "resume", "abort", "rollback"};
  if (!verbs.count(verb)) {
    return error_reply(404, "not_found",
                       "no such action '" + verb + "': pause, resume, abort or rollback");
  }
  auto one = records_.load_one(id);
  if (!one.ok()) return error_reply(one.error());
  if (!*one) return error_reply(404, "not_found", "no rollout " + id);
  if (rollout::terminal((*one)->state)) {
    return error_reply(409, "conflict",
                       "rollout " + id + " has finished (" + rollout::name((*one)->state) + ")");
  }
  auto asked = api::command_region(body);
  if (!asked.ok()) return error_reply(asked.error());
  const std::string& region = *asked;
  if (!region.empty() && (*one)->find(region) == nullptr) {
    return error_reply(404, "not_found", "rollout " + id + " has no region " + region);
  }
  if (verb == "rollback") {
    bool possible = false;
    for (const auto& run : (*one)->regions) {
      if (!region.empty() && run.region != region) continue;
      possible |=
          run.state == rollout::RegionState::shifting || run.state == rollout::RegionState::baking;
    }
    if (!possible) {
      return error_reply(409, "conflict",
                         "nothing to roll back to: a rollback needs a region that is shifting "
                         "traffic or baking (its old servers still kept); use abort before that");
    }
  }
  // One command per region: each is applied by the replica that drives its region.
  for (const auto& run : (*one)->regions) {
    if (!region.empty() && run.region != region) continue;
    rollout::Command queued{0, id, run.region, verb, who};
    if (auto saved = records_.queue(queued); !saved.ok()) return error_reply(saved.error());
  }
  return reply(202, {{"rollout", id}, {"region", region}, {"queued", verb}});
}

net::Response Rollouts::replicas_api() {
  auto described = leases_.describe();
  if (!described.ok()) return error_reply(described.error());
  return reply(200, *described);
}

}  // namespace pw::controller
