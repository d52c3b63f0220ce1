#include "orchestrator/controller/servers.hpp"

#include <time.h>

#include <chrono>
#include <cmath>
#include <memory>

#include "common/log/log.hpp"
#include "orchestrator/providers/local.hpp"
#include "orchestrator/providers/script.hpp"

namespace pw::controller {
namespace {

// The calling thread's CPU time (user and system), in milliseconds: what a provider call
// costs this process (the local provider makes "machines" here: directories, agent
// processes; a cloud provider's work happens elsewhere).
double thread_cpu_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

// Runs a provider call and logs what it took (`event`, with `fields`).
template <typename F>
auto timed_provider_call(const char* event, json::Value fields, F call) {
  double cpu_before = thread_cpu_ms();
  auto wall_before = std::chrono::steady_clock::now();
  auto result = call();
  std::chrono::duration<double> wall = std::chrono::steady_clock::now() - wall_before;
  fields["seconds"] = std::round(wall.count() * 1000.0) / 1000.0;
  fields["provider_cpu_ms"] = std::round((thread_cpu_ms() - cpu_before) * 100.0) / 100.0;
  fields["ok"] = result.ok();
  log::info(event, fields);
  return result;
}

const json::Value* find_region(const json::Value& policy, const std::string& region) {
  if (!policy.is_object() || !policy.contains("regions")) return nullptr;
  for (const auto& entry : policy["regions"]) {
    if (entry.value("name", "") == region) return &entry;
  }
  return nullptr;
}

Result<std::unique_ptr<providers::Provider>> provider_for(const Config& config,
                                                          const json::Value& region) {
  const json::Value& spec = region["provider"];
  std::string kind = spec.value("kind", "");
  if (kind == "local") {
    if (config.agent_binary.empty()) {
      return make_error(Errc::invalid_argument,
                        "agent_binary: the controller configuration must name the "
                        "patchwave-agent executable for the local provider");
    }
    providers::LocalOptions options;
    options.base_dir = config.servers_dir;
    options.agent_binary = config.agent_binary;
    return std::unique_ptr<providers::Provider>(new providers::LocalProvider(options));
  }
  if (kind == "script") {
    providers::ScriptOptions options;
    for (const auto& arg : spec["command"]) options.command.push_back(arg.get<std::string>());
    if (spec.contains("timeout_seconds")) {
      options.timeout = std::chrono::seconds(spec["timeout_seconds"].get<std::int64_t>());
    }
    if (spec.contains("params")) {
      for (auto it = spec["params"].begin(); it != spec["params"].end(); ++it) {
        options.params[it.key()] = it.value().get<std::string>();
      }
    }
    return std::unique_ptr<providers::Provider>(new providers::ScriptProvider(options));
  }
  return make_error(Errc::unsupported, "provider kind '" + kind + "' is not known");
}

providers::ProvisionContext context_of(const Config& config, const ca::ControllerCa& ca) {
  providers::ProvisionContext context;
  context.controller_url = config.url();
  context.controller_ca_file = ca.certificate_file();
  context.pinned_root_file = config.root;
  context.controller_name = config.name;
  return context;
}

}  // namespace

Result<json::Value> Servers::provision(const json::Value& policy, const std::string& region,
                                       int count, const std::string& rollout,
                                       const std::string& actor) {
  const json::Value* spec = find_region(policy, region);
  if (spec == nullptr) {
    return make_error(Errc::not_found, "region '" + region + "' is not in the fleet policy");
  }
  if (count < 1 || count > 100) return make_error(Errc::invalid_argument, "count: must be 1-100");
  PW_TRY_ASSIGN(auto provider, provider_for(*config_, *spec));
  // The names first (the rollout id comes from the request): a refused one is audited and
  // leaves no enrollment token behind.
  for (int index = 0; index < count; ++index) {
    auto valid = providers::check_server_name(providers::server_name(region, rollout, index));
    if (!valid.ok()) {
      PW_TRY(store_->audit().append({actor,
                                     "servers.provision",
                                     {{"region", region}, {"count", count}, {"rollout", rollout}},
                                     "refused: " + valid.error().to_string()}));
      return std::move(valid).error();
    }
  }
  ca::Enrollment enrollment(*store_, *ca_);
  std::vector<providers::ServerRequest> requests;
  // The tokens, and the names recorded before the provider makes the servers (an agent
  // may enroll through another replica before this call returns, and its enrollment then
  // waits for the address (Controller::enroll) instead of finding no server at all): one
  // commit for the whole region.
  const std::string kind = (*spec)["provider"].value("kind", "");
  Status recorded = store_->db().transaction([&]() -> Status {
    for (int index = 0; index < count; ++index) {
      providers::ServerRequest request;
      request.rollout_id = rollout;
      request.region = region;
      request.index = index;
      request.name = providers::server_name(region, rollout, index);
      PW_TRY_ASSIGN(request.enrollment_token, enrollment.create_token_in_transaction(
                                                  request.name, std::chrono::hours(1), actor));
      PW_TRY_ASSIGN(store::Statement record,
                    store_->db().prepare("INSERT INTO servers (name, region, rollout_id, address, "
                                         "provider, provider_id, state, created_at, updated_at) "
                                         "VALUES (?1, ?2, ?3, '', ?4, '', 'provisioned', ?5, ?5) "
                                         "ON CONFLICT(name) DO NOTHING"));
      record.bind(1, request.name)
          .bind(2, region)
          .bind(3, rollout)
          .bind(4, kind)
          .bind(5, log::now_rfc3339());
      PW_TRY(record.run());
      requests.push_back(std::move(request));
    }
    return Ok{};
  });
  PW_TRY(recorded);
  auto servers = timed_provider_call(
      "provider_provisioned", {{"region", region}, {"count", count}, {"provider", kind}},
      [&] { return provider->provision(region, requests, context_of(*config_, *ca_)); });
  if (!servers.ok()) {
    for (const auto& request : requests) {
      PW_TRY_ASSIGN(store::Statement drop,
                    store_->db().prepare("DELETE FROM servers WHERE name = ?1 AND address = ''"));
      drop.bind(1, request.name);
      PW_TRY(drop.run());
    }
    PW_TRY(store_->audit().append({actor,
                                   "servers.provision",
                                   {{"region", region}, {"count", count}},
                                   "failed: " + servers.error().to_string()}));
    return std::move(servers).error().with_context("provisioning " + region);
  }
  json::Value out = json::Value::array();
  Status stored = store_->db().transaction([&]() -> Status {  // one commit for the region
    for (const auto& server : *servers) {
      PW_TRY_ASSIGN(store::Statement upsert,
                    store_->db().prepare(
                        "INSERT INTO servers (name, region, rollout_id, address, provider, "
                        "provider_id, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                        "?6, 'provisioned', ?7, ?7) ON CONFLICT(name) DO UPDATE SET address = "
                        "excluded.address, provider_id = excluded.provider_id, updated_at = "
                        "excluded.updated_at"));
      upsert.bind(1, server.name)
          .bind(2, region)
          .bind(3, rollout)
          .bind(4, server.address)
          .bind(5, kind)
          .bind(6, server.provider_id)
          .bind(7, log::now_rfc3339());
      PW_TRY(upsert.run());
      out.push_back(providers::to_json(server));
    }
    auto appended = store_->audit().append_in_transaction(
        {actor,
         "servers.provision",
         {{"region", region}, {"count", count}, {"rollout", rollout}},
         "ok"});
    if (!appended.ok()) return std::move(appended).error();
    return Ok{};
  });
  PW_TRY(stored);
  return out;
}

Status Servers::decommission(const json::Value& policy, const std::string& name,
                             const std::string& actor) {
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT region, address, provider_id FROM servers WHERE "
                                     "name = ?1"));
  query.bind(1, name);
  PW_TRY_ASSIGN(bool found, query.step());
  if (!found) return make_error(Errc::not_found, "no server " + name);
  providers::Server server;
  server.name = name;
  server.region = query.text(0);
  server.address = query.text(1);
  server.provider_id = query.text(2);
  const json::Value* spec = find_region(policy, server.region);
  if (spec == nullptr) {
    return make_error(Errc::not_found, "region '" + server.region + "' is not in the fleet policy");
  }
  PW_TRY_ASSIGN(auto provider, provider_for(*config_, *spec));
  // Its token first: an enrollment still on its way must not bring the server back.
  PW_TRY_ASSIGN(std::int64_t revoked, ca::Enrollment(*store_, *ca_).revoke(name));
  auto gone = timed_provider_call("provider_decommissioned", {{"server", name}},
                                  [&] { return provider->decommission(server); });
  json::Value inputs = {{"server", name}};
  if (revoked > 0) inputs["enrollment_tokens_revoked"] = revoked;
  // The event and the new state in one commit.
  Status recorded = store_->db().transaction([&]() -> Status {
    auto appended = store_->audit().append_in_transaction(
        {actor, "servers.decommission", inputs,
         gone.ok() ? "ok" : "failed: " + gone.error().to_string()});
    if (!appended.ok()) return std::move(appended).error();
    if (!gone.ok()) return Ok{};
    PW_TRY_ASSIGN(store::Statement update,
                  store_->db().prepare("UPDATE servers SET state = 'decommissioned', "
                                       "updated_at = ?2 WHERE name = ?1"));
    update.bind(1, name).bind(2, log::now_rfc3339());
    return update.run();
  });
  PW_TRY(recorded);
  return gone;
}

Status Servers::decommission_unrecorded(const json::Value& policy, const std::string& region,
                                        const std::string& name, const std::string& actor) {
  const json::Value* spec = find_region(policy, region);
  if (spec == nullptr) {
    return make_error(Errc::not_found, "region '" + region + "' is not in the fleet policy");
  }
  PW_TRY_ASSIGN(auto provider, provider_for(*config_, *spec));
  PW_TRY(ca::Enrollment(*store_, *ca_).revoke(name));
  PW_TRY_ASSIGN(auto known, provider->list(region));
  for (const auto& server : known) {
    if (server.name != name) continue;
    auto gone = provider->decommission(server);
    PW_TRY(store_->audit().append({actor,
                                   "servers.decommission",
                                   {{"server", name}, {"unrecorded", true}},
                                   gone.ok() ? "ok" : "failed: " + gone.error().to_string()}));
    return gone;
  }
  return Ok{};
}

Result<json::Value> Servers::list(const std::string& region) {
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT name, region, rollout_id, address, provider, state, "
                                     "certificate_sha256, updated_at FROM servers WHERE ?1 = '' "
                                     "OR region = ?1 ORDER BY name"));
  query.bind(1, region);
  json::Value out = json::Value::array();
  for (;;) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    out.push_back({{"name", query.text(0)},
                   {"region", query.text(1)},
                   {"rollout", query.text(2)},
                   {"address", query.text(3)},
                   {"provider", query.text(4)},
                   {"state", query.text(5)},
                   {"certificate_sha256", query.text(6)},
                   {"updated_at", query.text(7)}});
  }
  return out;
}

std::string Servers::address_of(const std::string& name) {
  auto query = store_->db().prepare("SELECT address FROM servers WHERE name = ?1");
  if (!query.ok()) return {};
  query->bind(1, name);
  auto row = query->step();
  if (!row.ok() || !*row) return {};
  return query->text(0);
}

std::optional<std::string> Servers::recorded_address(const std::string& name) {
  auto query = store_->db().prepare("SELECT address FROM servers WHERE name = ?1");
  if (!query.ok()) return std::nullopt;
  query->bind(1, name);
  auto row = query->step();
  if (!row.ok() || !*row) return std::nullopt;
  return query->text(0);
}

Status Servers::mark_enrolled(const std::string& name, const std::string& certificate_sha256) {
  PW_TRY_ASSIGN(store::Statement update,
                store_->db().prepare("UPDATE servers SET state = 'enrolled', certificate_sha256 = "
                                     "?2, updated_at = ?3 WHERE name = ?1 AND state IN "
                                     "('provisioned', 'enrolled')"));
  update.bind(1, name).bind(2, certificate_sha256).bind(3, log::now_rfc3339());
  return update.run();
}

}  // namespace pw::controller
