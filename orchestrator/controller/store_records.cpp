// StoreRecords: the rollout engine's records in the store (rollouts, rollout_regions,
// rollout_commands, approvals), fenced by the region leases when replicas share the store.
#include <algorithm>
#include <chrono>
#include <tuple>

#include "common/log/log.hpp"
#include "orchestrator/controller/leases.hpp"
#include "orchestrator/controller/rollout_ports.hpp"
#include "orchestrator/controller/sync.hpp"

namespace pw::controller {

// --- StoreRecords -------------------------------------------------------------------

Status StoreRecords::save(const rollout::Rollout& r) {
  std::lock_guard lock(*mutex_);
  return write(r, nullptr);
}

Status StoreRecords::keep(const rollout::Rollout& r) {
  std::lock_guard lock(*mutex_);
  auto cached = saved_.find(r.id);
  if (cached == saved_.end()) return write(r, nullptr);  // not cached yet: written
  cached->second.record = r;
  return Ok{};
}

Status StoreRecords::save_audited(const rollout::Rollout& r, const rollout::AuditEntry& event) {
  std::lock_guard lock(*mutex_);
  return write(r, &event);
}

namespace {

// In the write transaction: the store still shows this replica's claim on `region`
// ("" : the rollout's row) under `epoch`. Errc::conflict ("fenced") if not.
Status check_claim(store::Database& db, const std::string& replica, const std::string& rollout_id,
                   const std::string& region, std::int64_t epoch) {
  PW_TRY_ASSIGN(store::Statement query,
                db.prepare("SELECT holder, epoch FROM region_leases WHERE rollout_id = ?1 AND "
                           "region = ?2"));
  query.bind(1, rollout_id).bind(2, region);
  PW_TRY_ASSIGN(bool found, query.step());
  // The epoch decides, not the expiry: a claim that ran out while this replica was busy
  // (a slow agent call) but that nobody took over is still its own, and nobody else acted.
  if (found && query.text(0) == replica && query.integer(1) == epoch) return Ok{};
  std::string what =
      region.empty() ? "rollout " + rollout_id : "region " + region + " of rollout " + rollout_id;
  std::string now =
      found ? query.text(0) + " holds it under epoch " + std::to_string(query.integer(1))
            : "nobody holds it";
  return make_error(Errc::conflict, "fenced: " + replica + " may no longer write " + what +
                                        " under epoch " + std::to_string(epoch) + " (" + now + ")");
}

}  // namespace

Status StoreRecords::write(const rollout::Rollout& r, const rollout::AuditEntry* event) {
  auto& db = store_->db();
  json::Value plan = {
      {"release", r.release}, {"created_at_ms", r.created_at}, {"emergency", r.emergency}};
  std::string plan_text = plan.dump();
  std::string row = std::string(rollout::name(r.state)) + "\n" + plan_text;
  auto cached = saved_.find(r.id);
  bool created = cached == saved_.end();
  bool row_changed = created || cached->second.row != row;
  // With replicas, a record that exists is written only under this replica's claim: a
  // region it does not drive differs only because its cached copy is stale (the engine
  // changes only the regions it drives), so it is left as the store has it.
  std::optional<std::int64_t> row_epoch;
  if (leases_ != nullptr && row_changed && !created) {
    row_epoch = leases_->epoch(r.id, "");
    if (!row_epoch) row_changed = false;
  }
  std::map<std::string, std::string> regions;
  std::map<std::string, std::int64_t> revs;
  struct Change {
    const rollout::RegionRun* run;
    std::optional<std::int64_t> epoch;
    std::int64_t rev;
  };
  std::vector<Change> changed;
  for (const auto& run : r.regions) {
    std::string data = run.to_json().dump();
    bool known = !created && cached->second.regions.count(run.region) != 0;
    std::int64_t rev = known ? cached->second.revs[run.region] : 0;
    if (!known || cached->second.regions[run.region] != data) {
      std::optional<std::int64_t> epoch;
      if (leases_ != nullptr && known) epoch = leases_->epoch(r.id, run.region);
      if (leases_ == nullptr || !known || epoch) {
        changed.push_back({&run, epoch, rev + 1});
        rev += 1;
      } else {
        data = cached->second.regions[run.region];  // not ours: the store's copy stands
      }
    }
    regions[run.region] = std::move(data);
    revs[run.region] = rev;
  }
  if (!row_changed && changed.empty() && event == nullptr) {
    if (!created) cached->second.record = r;
    return Ok{};
  }
  std::string now = log::now_rfc3339();
  Status written = db.transaction([&]() -> Status {
    if (created && r.state == rollout::RolloutState::pending) {
      // Checked again here, under the store's write lock: another replica may have
      // started a rollout in one of these regions since the API looked.
      for (const auto& run : r.regions) {
        PW_TRY_ASSIGN(store::Statement busy,
                      db.prepare("SELECT g.rollout_id FROM rollout_regions g JOIN rollouts o ON "
                                 "o.id = g.rollout_id WHERE g.region = ?1 AND g.rollout_id != ?2 "
                                 "AND o.state IN ('pending', 'running') AND g.state NOT IN "
                                 "('succeeded', 'rolled_back', 'aborted', 'rejected', "
                                 "'expired')"));
        busy.bind(1, run.region).bind(2, r.id);
        PW_TRY_ASSIGN(bool taken, busy.step());
        if (taken) {
          return make_error(Errc::conflict,
                            "region " + run.region + " is in rollout " + busy.text(0) + " already");
        }
      }
    }
    if (row_epoch) PW_TRY(check_claim(db, leases_->replica(), r.id, "", *row_epoch));
    for (const auto& change : changed) {
      if (change.epoch) {
        PW_TRY(check_claim(db, leases_->replica(), r.id, change.run->region, *change.epoch));
      }
    }
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
    for (const auto& change : changed) {
      const rollout::RegionRun* run = change.run;
      PW_TRY_ASSIGN(store::Statement region,
                    db.prepare("INSERT INTO rollout_regions (rollout_id, region, wave, state, "
                               "paused, step, detail, data, updated_at, rev) VALUES (?1, ?2, ?3, "
                               "?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(rollout_id, region) DO "
                               "UPDATE SET state = excluded.state, paused = excluded.paused, "
                               "step = excluded.step, detail = excluded.detail, data = "
                               "excluded.data, updated_at = excluded.updated_at, rev = "
                               "excluded.rev"));
      region.bind(1, r.id)
          .bind(2, run->region)
          .bind(3, std::int64_t{run->wave})
          .bind(4, rollout::name(run->state))
          .bind(5, std::int64_t{run->paused ? 1 : 0})
          .bind(6, std::int64_t{run->step})
          .bind(7, run->reason)
          .bind(8, regions[run->region])
          .bind(9, now)
          .bind(10, change.rev);
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
  writes_.fetch_add(1);
  if (r.state == rollout::RolloutState::pending || r.state == rollout::RolloutState::running) {
    if (!row_changed && !created) row = cached->second.row;
    saved_[r.id] = Saved{std::move(row), std::move(regions), std::move(revs), r};
  } else {
    saved_.erase(r.id);  // finished: the API reads it from the store
  }
  return Ok{};
}

Result<StoreRecords::Saved> StoreRecords::read(const std::string& id) {
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
  Saved saved;
  saved.row = query.text(5) + "\n" + query.text(6);
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
                db.prepare("SELECT region, rev, data FROM rollout_regions WHERE rollout_id = ?1 "
                           "ORDER BY rowid"));
  regions.bind(1, id);
  for (;;) {
    PW_TRY_ASSIGN(bool row, regions.step());
    if (!row) break;
    PW_TRY_ASSIGN(json::Value data, json::parse(regions.text(2), limits));
    saved.regions[regions.text(0)] = regions.text(2);
    saved.revs[regions.text(0)] = regions.integer(1);
    detail["regions"].push_back(std::move(data));
  }
  auto parsed = rollout::Rollout::from_json(detail);
  if (!parsed.ok()) return std::move(parsed).error().with_context("rollout " + id);
  saved.record = std::move(*parsed);
  return saved;
}

Result<bool> StoreRecords::stale(const std::string& id, const Saved& saved) {
  // Cheap: the row's state and every region's revision, against the cached copy.
  auto& db = store_->db();
  PW_TRY_ASSIGN(store::Statement state, db.prepare("SELECT state FROM rollouts WHERE id = ?1"));
  state.bind(1, id);
  PW_TRY_ASSIGN(bool found, state.step());
  if (!found || saved.row.compare(0, saved.row.find('\n'), state.text(0)) != 0) return true;
  PW_TRY_ASSIGN(store::Statement revs,
                db.prepare("SELECT region, rev FROM rollout_regions WHERE rollout_id = ?1"));
  revs.bind(1, id);
  std::size_t count = 0;
  for (;;) {
    PW_TRY_ASSIGN(bool row, revs.step());
    if (!row) break;
    ++count;
    auto known = saved.revs.find(revs.text(0));
    if (known == saved.revs.end() || known->second != revs.integer(1)) return true;
  }
  return count != saved.revs.size();
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
  PW_TRY(insert.run());
  commands_queued_.fetch_add(1);
  return Ok{};
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
  // The loop asks for the active ones ten times a second: two lookups in the state
  // index, sorted here (few rows; SQLite's IN list and its sorter each build a temporary
  // b-tree, which cost more than the query).
  PW_TRY_ASSIGN(
      store::Statement query,
      store_->db().prepare(active_only ? "SELECT id, created_at, rowid FROM rollouts WHERE "
                                         "state = 'pending' UNION ALL SELECT id, created_at, "
                                         "rowid FROM rollouts WHERE state = 'running'"
                                       : "SELECT id, created_at, rowid FROM rollouts"));
  struct Found {
    std::string created_at;
    std::int64_t rowid;
    std::string id;
    bool operator<(const Found& o) const {
      return std::tie(created_at, rowid) < std::tie(o.created_at, o.rowid);
    }
  };
  std::vector<Found> found;
  for (;;) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    found.push_back({query.text(1), query.integer(2), query.text(0)});
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> ids;
  ids.reserve(found.size());
  for (auto& f : found) ids.push_back(std::move(f.id));
  std::vector<rollout::Rollout> out;
  for (const auto& id : ids) {
    if (auto cached = saved_.find(id); cached != saved_.end()) {
      // Alone on the store, or holding every claim of the rollout, this controller wrote
      // what it cached; with replicas, the regions other replicas drive move on under it.
      bool changed = false;
      if (leases_ != nullptr && !leases_->holds_all(cached->second.record)) {
        PW_TRY_ASSIGN(changed, stale(id, cached->second));
      }
      if (!changed) {
        out.push_back(cached->second.record);
        continue;
      }
    }
    PW_TRY_ASSIGN(auto saved, read(id));
    if (auto cached = saved_.find(id); cached != saved_.end()) {
      // A region whose row nobody wrote since this controller last did (the same rev) is
      // as it left it, plus what it kept without saving (Records::keep): that stays.
      for (auto& run : saved.record.regions) {
        const rollout::RegionRun* mine = cached->second.record.find(run.region);
        auto known = cached->second.revs.find(run.region);
        auto now = saved.revs.find(run.region);
        if (mine != nullptr && known != cached->second.revs.end() && now != saved.revs.end() &&
            known->second == now->second) {
          run = *mine;
        }
      }
    }
    auto state = saved.record.state;
    out.push_back(saved.record);
    if (state == rollout::RolloutState::pending || state == rollout::RolloutState::running) {
      saved_[id] = std::move(saved);
    } else {
      saved_.erase(id);
    }
  }
  return out;
}

Result<std::optional<rollout::Rollout>> StoreRecords::load_one(const std::string& id) {
  std::lock_guard lock(*mutex_);
  auto r = read(id);
  if (!r.ok() && r.error().code == Errc::not_found) return std::optional<rollout::Rollout>{};
  if (!r.ok()) return std::move(r).error();
  return std::optional<rollout::Rollout>(std::move(r->record));
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
  PW_TRY(insert.run());
  commands_queued_.fetch_add(1);
  return Ok{};
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

}  // namespace pw::controller
