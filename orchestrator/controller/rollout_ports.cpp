#include "orchestrator/controller/rollout_ports.hpp"

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/log/log.hpp"
#include "common/net/http.hpp"
#include "orchestrator/agent_client/agent_client.hpp"
#include "orchestrator/controller/sync.hpp"

namespace pw::controller {
namespace fs = std::filesystem;
using rollout::ServerRef;

rollout::Millis SystemClock::now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- ServerFleet ----------------------------------------------------------------------

Result<std::vector<ServerRef>> ServerFleet::serving(const std::string& region) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT name, address, service FROM servers WHERE "
                                     "region = ?1 AND state = 'serving' ORDER BY name"));
  query.bind(1, region);
  std::vector<ServerRef> out;
  for (;;) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    out.push_back({query.text(0), query.text(1), query.text(2)});
  }
  return out;
}

Result<std::vector<ServerRef>> ServerFleet::provision(const std::string& region,
                                                      const std::string& rollout_id, int count) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(json::Value made,
                servers_->provision(policy_, region, count, rollout_id, "controller"));
  std::vector<ServerRef> out;
  for (const auto& server : made) {
    out.push_back({server.value("name", ""), server.value("address", ""), ""});
  }
  return out;
}

Result<bool> ServerFleet::enrolled(const std::string& name) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT state FROM servers WHERE name = ?1"));
  query.bind(1, name);
  PW_TRY_ASSIGN(bool found, query.step());
  return found && (query.text(0) == "enrolled" || query.text(0) == "serving");
}

Status ServerFleet::decommission(const std::string& region, const ServerRef& server) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT state FROM servers WHERE name = ?1"));
  query.bind(1, server.name);
  PW_TRY_ASSIGN(bool found, query.step());
  if (found && query.text(0) == "decommissioned") return Ok{};
  if (found) return servers_->decommission(policy_, server.name, "controller");
  return servers_->decommission_unrecorded(policy_, region, server.name, "controller");
}

Status ServerFleet::promote(const std::string& region, const std::vector<ServerRef>& fresh,
                            const std::vector<ServerRef>&) {
  std::lock_guard lock(*mutex_);
  return store_->db().transaction([&]() -> Status {
    for (const auto& server : fresh) {
      PW_TRY_ASSIGN(store::Statement update,
                    store_->db().prepare("UPDATE servers SET state = 'serving', service = ?2, "
                                         "updated_at = ?3 WHERE name = ?1 AND region = ?4"));
      update.bind(1, server.name)
          .bind(2, server.service)
          .bind(3, log::now_rfc3339())
          .bind(4, region);
      PW_TRY(update.run());
    }
    return Ok{};
  });
}

}  // namespace pw::controller
