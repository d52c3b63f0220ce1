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

// --- StoreRecords -------------------------------------------------------------------

Status StoreRecords::save(const rollout::Rollout& r) {
  std::lock_guard lock(*mutex_);
  return write(r, nullptr);
}

Status StoreRecords::save_audited(const rollout::Rollout& r, const rollout::AuditEntry& event) {
  std::lock_guard lock(*mutex_);
  return write(r, &event);
}

Status StoreRecords::write(const rollout::Rollout& r, const rollout::AuditEntry* event) {
  auto& db = store_->db();
  json::Value plan = {
      {"release", r.release}, {"created_at_ms", r.created_at}, {"emergency", r.emergency}};
  std::string plan_text = plan.dump();
  std::string row = std::string(rollout::name(r.state)) + "\n" + plan_text;
  auto cached = saved_.find(r.id);
  bool row_changed = cached == saved_.end() || cached->second.row != row;
  std::map<std::string, std::string> regions;
  std::vector<const rollout::RegionRun*> changed;
  for (const auto& run : r.regions) {
    std::string data = run.to_json().dump();
    if (cached == saved_.end() || cached->second.regions[run.region] != data) {
      changed.push_back(&run);
    }
    regions[run.region] = std::move(data);
  }
  if (!row_changed && changed.empty() && event == nullptr) {
    cached->second.record = r;
    return Ok{};
  }
  std::string now = log::now_rfc3339();
  Status written = db.transaction([&]() -> Status {
    if (row_changed) {
      PW_TRY_ASSIGN(store::Statement upsert,
                    db.prepare("INSERT INTO rollouts (id, app, version, target, sha256, urgency, "
                               "state, plan, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                               "?6, ?7, ?8, ?9, ?9) ON CONFLICT(id) DO UPDATE SET state = "
                               "excluded.state, plan = excluded.plan, updated_at = ?9"));
      upsert.bind(1, r.id)
          .bind(2, r.app)
          .bind(3, r.version)
          .bind(4, r.target)
          .bind(5, r.sha256)
          .bind(6, r.urgency)
          .bind(7, rollout::name(r.state))
          .bind(8, plan_text)
          .bind(9, now);
      PW_TRY(upsert.run());
    }
    for (const auto* run : changed) {
      PW_TRY_ASSIGN(store::Statement region,
                    db.prepare("INSERT INTO rollout_regions (rollout_id, region, wave, state, "
                               "paused, step, detail, data, updated_at) VALUES (?1, ?2, ?3, ?4, "
                               "?5, ?6, ?7, ?8, ?9) ON CONFLICT(rollout_id, region) DO UPDATE "
                               "SET state = excluded.state, paused = excluded.paused, step = "
                               "excluded.step, detail = excluded.detail, data = excluded.data, "
                               "updated_at = excluded.updated_at"));
      region.bind(1, r.id)
          .bind(2, run->region)
          .bind(3, std::int64_t{run->wave})
          .bind(4, rollout::name(run->state))
          .bind(5, std::int64_t{run->paused ? 1 : 0})
          .bind(6, std::int64_t{run->step})
          .bind(7, run->reason)
          .bind(8, regions[run->region])
          .bind(9, now);
      PW_TRY(region.run());
    }
    if (event != nullptr) {
      auto appended = store_->audit().append_in_transaction(
          {event->actor, event->action, event->inputs, event->outcome});
      if (!appended.ok()) return std::move(appended).error();
    }
    return Ok{};
  });
  if (!written.ok()) return written;
  if (r.state == rollout::RolloutState::pending || r.state == rollout::RolloutState::running) {
    saved_[r.id] = Saved{std::move(row), std::move(regions), r};
  } else {
    saved_.erase(r.id);  // finished: the API reads it from the store
  }
  return Ok{};
}

Result<rollout::Rollout> StoreRecords::read(const std::string& id) {
  auto& db = store_->db();
  PW_TRY_ASSIGN(store::Statement query,
                db.prepare("SELECT app, version, target, sha256, urgency, state, plan FROM "
                           "rollouts WHERE id = ?1"));
  query.bind(1, id);
  PW_TRY_ASSIGN(bool found, query.step());
  if (!found) return make_error(Errc::not_found, "no rollout " + id);
  json::ParseLimits limits;
  limits.allow_floats = true;
  PW_TRY_ASSIGN(json::Value plan, json::parse(query.text(6), limits));
  json::Value detail = {{"id", id},
                        {"app", query.text(0)},
                        {"version", query.text(1)},
                        {"target", query.text(2)},
                        {"sha256", query.text(3)},
                        {"urgency", query.text(4)},
                        {"state", query.text(5)},
                        {"created_at", plan.value("created_at_ms", std::int64_t{0})},
                        {"release", plan.value("release", json::Value::object())},
                        {"emergency", plan.value("emergency", json::Value())},
                        {"regions", json::Value::array()}};
  PW_TRY_ASSIGN(store::Statement regions,
                db.prepare("SELECT data FROM rollout_regions WHERE rollout_id = ?1 ORDER BY "
                           "rowid"));
  regions.bind(1, id);
  for (;;) {
    PW_TRY_ASSIGN(bool row, regions.step());
    if (!row) break;
    PW_TRY_ASSIGN(json::Value data, json::parse(regions.text(0), limits));
    detail["regions"].push_back(std::move(data));
  }
  auto parsed = rollout::Rollout::from_json(detail);
  if (!parsed.ok()) return std::move(parsed).error().with_context("rollout " + id);
  return parsed;
}

Result<std::vector<std::string>> StoreRecords::approvals(const std::string& rollout_id,
                                                         const std::string& region) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT document FROM approvals WHERE rollout_id = ?1 AND "
                                     "region = ?2 ORDER BY id"));
  query.bind(1, rollout_id).bind(2, region);
  std::vector<std::string> out;
  for (;;) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    out.push_back(query.text(0));
  }
  return out;
}

Status StoreRecords::add_approval(const std::string& rollout_id, const std::string& region,
                                  const std::string& keyid, const std::string& document) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement insert,
                store_->db().prepare("INSERT INTO approvals (rollout_id, region, keyid, "
                                     "document, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
  insert.bind(1, rollout_id)
      .bind(2, region)
      .bind(3, keyid)
      .bind(4, document)
      .bind(5, log::now_rfc3339());
  return insert.run();
}

Result<bool> StoreRecords::has_approval(const std::string& rollout_id, const std::string& region,
                                        const std::string& keyid) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT 1 FROM approvals WHERE rollout_id = ?1 AND region "
                                     "= ?2 AND keyid = ?3"));
  query.bind(1, rollout_id).bind(2, region).bind(3, keyid);
  return query.step();
}

Status StoreRecords::notify(const std::string& event, const json::Value& fields,
                            const std::string& text) {
  std::lock_guard lock(*mutex_);
  PW_TRY(notify::enqueue(store_->db(), event, fields, text));
  if (dispatcher_ != nullptr) dispatcher_->notify();
  return Ok{};
}

Result<std::vector<rollout::Rollout>> StoreRecords::load(bool active_only) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT id FROM rollouts WHERE ?1 = 0 OR state IN "
                                     "('pending', 'running') ORDER BY created_at, rowid"));
  query.bind(1, std::int64_t{active_only ? 1 : 0});
  std::vector<std::string> ids;
  for (;;) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    ids.push_back(query.text(0));
  }
  std::vector<rollout::Rollout> out;
  for (const auto& id : ids) {
    if (auto cached = saved_.find(id); cached != saved_.end()) {
      out.push_back(cached->second.record);
      continue;
    }
    PW_TRY_ASSIGN(auto r, read(id));
    if (r.state == rollout::RolloutState::pending || r.state == rollout::RolloutState::running) {
      saved_[id] = Saved{{}, {}, r};  // rows unknown: the next save writes them all
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<rollout::Rollout>> StoreRecords::load_one(const std::string& id) {
  std::lock_guard lock(*mutex_);
  auto r = read(id);
  if (!r.ok() && r.error().code == Errc::not_found) return std::optional<rollout::Rollout>{};
  if (!r.ok()) return std::move(r).error();
  return std::optional<rollout::Rollout>(std::move(*r));
}

Status StoreRecords::queue(const rollout::Command& command) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement insert,
                store_->db().prepare("INSERT INTO rollout_commands (rollout_id, region, verb, "
                                     "actor, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
  insert.bind(1, command.rollout_id)
      .bind(2, command.region)
      .bind(3, command.verb)
      .bind(4, command.actor)
      .bind(5, log::now_rfc3339());
  return insert.run();
}

Result<std::vector<rollout::Command>> StoreRecords::commands(const std::string& rollout_id) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement query,
                store_->db().prepare("SELECT id, region, verb, actor FROM rollout_commands "
                                     "WHERE rollout_id = ?1 AND done_at IS NULL ORDER BY id"));
  query.bind(1, rollout_id);
  std::vector<rollout::Command> out;
  for (;;) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    out.push_back({query.integer(0), rollout_id, query.text(1), query.text(2), query.text(3)});
  }
  return out;
}

Status StoreRecords::command_done(const rollout::Command& command, const std::string& outcome) {
  std::lock_guard lock(*mutex_);
  PW_TRY_ASSIGN(store::Statement update,
                store_->db().prepare("UPDATE rollout_commands SET done_at = ?2, outcome = ?3 "
                                     "WHERE id = ?1"));
  update.bind(1, command.id).bind(2, log::now_rfc3339()).bind(3, outcome);
  return update.run();
}

Status StoreRecords::audit(const std::string& actor, const std::string& action,
                           const json::Value& inputs, const std::string& outcome) {
  std::lock_guard lock(*mutex_);
  auto appended = store_->audit().append({actor, action, inputs, outcome});
  if (!appended.ok()) return std::move(appended).error();
  return Ok{};
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
