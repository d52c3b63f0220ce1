#include "orchestrator/controller/leases.hpp"

#include <algorithm>

#include "common/log/log.hpp"

namespace pw::controller {
namespace {

std::string describe_key(const StoreLeases::Key& key) {
  return key.second.empty() ? "rollout " + key.first
                            : "region " + key.second + " of rollout " + key.first;
}

std::int64_t millis(std::chrono::milliseconds ms) { return ms.count(); }

}  // namespace

StoreLeases::StoreLeases(store::Store& store, std::mutex& store_mutex, LeaseOptions options)
    : store_(&store), store_mutex_(&store_mutex), options_(std::move(options)) {}

StoreLeases::~StoreLeases() { stop(); }

void StoreLeases::start(std::chrono::milliseconds stall) {
  if (renewer_.joinable()) return;
  stopping_ = false;
  renewer_ = std::thread([this, stall] {
    std::unique_lock lock(renewer_mutex_);
    while (!stopping_) {
      renewer_wake_.wait_for(lock, options_.ttl / 3);
      if (stopping_) break;
      lock.unlock();
      auto now = Steady::now();
      bool progressing;
      {
        std::lock_guard held(mutex_);
        progressing = now - last_tick_ < stall;
      }
      if (progressing) renew_due(now);
      lock.lock();
    }
  });
}

void StoreLeases::stop() {
  {
    std::lock_guard lock(renewer_mutex_);
    stopping_ = true;
  }
  renewer_wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

void StoreLeases::renew_due(Steady::time_point now) {
  std::vector<Key> due;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, claim] : held_) {
      if (!claim.lost && claim.valid_until - now < options_.ttl / 2) due.push_back(key);
    }
  }
  for (const auto& key : due) {
    Claim copy;
    {
      std::lock_guard lock(mutex_);
      auto found = held_.find(key);
      if (found == held_.end()) continue;
      copy = found->second;
    }
    (void)renew(key, copy);
  }
}

const char* StoreLeases::now_sql(store::Dialect dialect) {
  return dialect == store::Dialect::postgresql
             ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
             : "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
}

Status StoreLeases::heartbeat() {
  std::lock_guard store_lock(*store_mutex_);
  auto& db = store_->db();
  std::string now = now_sql(db.dialect());
  return db.transaction([&]() -> Status {
    PW_TRY_ASSIGN(store::Statement upsert,
                  db.prepare("INSERT INTO controller_replicas (id, url, started_at, seen_ms) "
                             "VALUES (?1, ?2, ?3, " +
                             now +
                             ") ON CONFLICT(id) DO UPDATE SET url = excluded.url, seen_ms = "
                             "excluded.seen_ms"));
    upsert.bind(1, options_.replica).bind(2, options_.url).bind(3, log::now_rfc3339());
    return upsert.run();
  });
}

void StoreLeases::begin_tick(const std::set<Key>& wanted) {
  auto now = Steady::now();
  if (now >= next_heartbeat_) {
    if (auto beat = heartbeat(); !beat.ok()) {
      log::warn("replica_heartbeat_failed", {{"error", beat.error().to_string()}});
    }
    next_heartbeat_ = now + options_.ttl / 3;
  }
  std::size_t live = 1;
  if (!wanted.empty()) {  // with nothing to drive, the share does not matter
    std::lock_guard store_lock(*store_mutex_);
    auto& db = store_->db();
    auto query = db.prepare(std::string("SELECT count(*) FROM controller_replicas WHERE seen_ms "
                                        "> ") +
                            now_sql(db.dialect()) + " - ?1");
    if (query.ok()) {
      query->bind(1, millis(options_.ttl));
      if (auto row = query->step(); row.ok() && *row) {
        live = static_cast<std::size_t>(std::max<std::int64_t>(1, query->integer(0)));
      }
    }
  }
  std::size_t regions = 0;
  for (const auto& key : wanted) {
    if (!key.second.empty()) ++regions;
  }

  // Claims no longer wanted are given back; the others renewed past half their life.
  std::vector<std::pair<Key, std::int64_t>> released;
  {
    std::lock_guard lock(mutex_);
    last_tick_ = now;
    share_ = (regions + live - 1) / live;
    // More than its share (replicas joined since it claimed): the excess is handed back
    // between two ticks, where the store holds everything the next driver needs.
    std::size_t mine = 0;
    for (const auto& [key, claim] : held_) {
      if (!key.second.empty() && !claim.lost && wanted.count(key)) ++mine;
    }
    std::size_t excess = mine > share_ ? mine - share_ : 0;
    for (auto it = held_.begin(); it != held_.end();) {
      bool hand_back =
          excess > 0 && !it->first.second.empty() && !it->second.lost && wanted.count(it->first);
      if (!wanted.count(it->first) || it->second.lost || hand_back) {
        if (!it->second.lost) released.emplace_back(it->first, it->second.epoch);
        if (hand_back) --excess;
        it = held_.erase(it);
        continue;
      }
      ++it;
    }
    for (auto it = busy_until_.begin(); it != busy_until_.end();) {
      it = wanted.count(it->first) ? std::next(it) : busy_until_.erase(it);
    }
  }
  if (!released.empty()) {
    std::lock_guard store_lock(*store_mutex_);
    auto& db = store_->db();
    auto gone = db.transaction([&]() -> Status {
      for (const auto& [key, epoch] : released) {
        PW_TRY_ASSIGN(store::Statement drop,
                      db.prepare("DELETE FROM region_leases WHERE rollout_id = ?1 AND region = "
                                 "?2 AND holder = ?3 AND epoch = ?4"));
        drop.bind(1, key.first).bind(2, key.second).bind(3, options_.replica).bind(4, epoch);
        PW_TRY(drop.run());
      }
      return Ok{};
    });
    if (!gone.ok()) log::warn("lease_release_failed", {{"error", gone.error().to_string()}});
  }
  renew_due(now);
}

Result<bool> StoreLeases::renew(const Key& key, Claim& claim) {
  auto started = Steady::now();
  bool kept = false;
  {
    std::lock_guard store_lock(*store_mutex_);
    auto& db = store_->db();
    std::string now = now_sql(db.dialect());
    Status done = db.transaction([&]() -> Status {
      PW_TRY_ASSIGN(store::Statement update,
                    db.prepare("UPDATE region_leases SET expires_ms = " + now +
                               " + ?5 WHERE rollout_id = ?1 AND region = ?2 AND holder = ?3 AND "
                               "epoch = ?4"));
      update.bind(1, key.first)
          .bind(2, key.second)
          .bind(3, options_.replica)
          .bind(4, claim.epoch)
          .bind(5, millis(options_.ttl));
      PW_TRY(update.run());
      PW_TRY_ASSIGN(store::Statement check,
                    db.prepare("SELECT 1 FROM region_leases WHERE rollout_id = ?1 AND region = "
                               "?2 AND holder = ?3 AND epoch = ?4"));
      check.bind(1, key.first).bind(2, key.second).bind(3, options_.replica).bind(4, claim.epoch);
      PW_TRY_ASSIGN(kept, check.step());
      return Ok{};
    });
    PW_TRY(done);
  }
  std::lock_guard lock(mutex_);
  auto found = held_.find(key);
  if (found == held_.end() || found->second.epoch != claim.epoch) return false;
  if (kept) {
    found->second.valid_until = started + options_.ttl;
  } else if (!found->second.lost) {
    found->second.lost = true;
    log::warn("lease_lost", {{"rollout", key.first},
                             {"region", key.second},
                             {"epoch", claim.epoch},
                             {"replica", options_.replica}});
  }
  claim = found->second;
  return kept;
}

Result<bool> StoreLeases::claim(const Key& key) {
  auto started = Steady::now();
  std::int64_t known = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto found = held_.find(key); found != held_.end()) known = found->second.epoch;
  }
  bool mine = false;
  std::int64_t epoch = 0, busy_ms = 0;
  std::string previous;
  {
    std::lock_guard store_lock(*store_mutex_);
    auto& db = store_->db();
    std::string now = now_sql(db.dialect());
    Status done = db.transaction([&]() -> Status {
      bool found = false;
      std::int64_t current = 0, expires = 0, at = 0;
      {
        PW_TRY_ASSIGN(store::Statement query,
                      db.prepare("SELECT holder, epoch, expires_ms, " + now +
                                 " FROM region_leases WHERE rollout_id = ?1 AND region = ?2"));
        query.bind(1, key.first).bind(2, key.second);
        PW_TRY_ASSIGN(found, query.step());
        if (found) {
          previous = query.text(0);
          current = query.integer(1);
          expires = query.integer(2);
          at = query.integer(3);
        }
      }
      if (!found) {
        PW_TRY_ASSIGN(store::Statement insert,
                      db.prepare("INSERT INTO region_leases (rollout_id, region, holder, epoch, "
                                 "expires_ms) VALUES (?1, ?2, ?3, 1, " +
                                 now + " + ?4)"));
        insert.bind(1, key.first)
            .bind(2, key.second)
            .bind(3, options_.replica)
            .bind(4, millis(options_.ttl));
        PW_TRY(insert.run());
        epoch = 1;
        mine = true;
        return Ok{};
      }
      if (previous != options_.replica && expires > at) {
        busy_ms = expires - at;
        return Ok{};
      }
      // Ours under the epoch we know: a renewal. Anything else is a takeover — from a
      // replica that stopped renewing, or from this replica's previous life (its state
      // directory is locked, so that one has exited) — and fences the old holder out.
      epoch = previous == options_.replica && current == known ? current : current + 1;
      PW_TRY_ASSIGN(store::Statement update,
                    db.prepare("UPDATE region_leases SET holder = ?3, epoch = ?4, expires_ms = " +
                               now + " + ?5 WHERE rollout_id = ?1 AND region = ?2"));
      update.bind(1, key.first)
          .bind(2, key.second)
          .bind(3, options_.replica)
          .bind(4, epoch)
          .bind(5, millis(options_.ttl));
      PW_TRY(update.run());
      mine = true;
      return Ok{};
    });
    PW_TRY(done);
  }
  std::lock_guard lock(mutex_);
  if (!mine) {
    held_.erase(key);
    busy_until_[key] = started + std::chrono::milliseconds(busy_ms);
    return false;
  }
  busy_until_.erase(key);
  bool takeover = epoch != known;
  held_[key] = Claim{epoch, started + options_.ttl, false};
  if (takeover) {
    log::info("lease_claimed", {{"rollout", key.first},
                                {"region", key.second},
                                {"epoch", epoch},
                                {"from", previous},
                                {"replica", options_.replica}});
  }
  return true;
}

bool StoreLeases::drives(const std::string& rollout_id, const std::string& region) {
  Key key{rollout_id, region};
  auto now = Steady::now();
  Claim copy;
  bool have = false;
  {
    std::lock_guard lock(mutex_);
    auto found = held_.find(key);
    if (found != held_.end() && !found->second.lost) {
      if (found->second.valid_until - now > options_.ttl / 2) return true;
      copy = found->second;
      have = true;
    } else {
      auto busy = busy_until_.find(key);
      if (busy != busy_until_.end() && busy->second > now) return false;
      if (!region.empty()) {
        std::size_t mine = 0;
        for (const auto& [k, claim] : held_) {
          if (!k.second.empty() && !claim.lost) ++mine;
        }
        if (mine >= share_) return false;
      }
    }
  }
  auto result = have ? renew(key, copy) : claim(key);
  if (!result.ok()) {
    log::warn("lease_unavailable",
              {{"what", describe_key(key)}, {"error", result.error().to_string()}});
    return false;
  }
  return *result;
}

Status StoreLeases::fence(const std::string& rollout_id, const std::string& region) {
  Key key{rollout_id, region};
  Claim copy;
  {
    std::lock_guard lock(mutex_);
    auto found = held_.find(key);
    if (found == held_.end() || found->second.lost) {
      return make_error(Errc::conflict,
                        "fenced: " + describe_key(key) + " is not driven by " + options_.replica);
    }
    if (Steady::now() + options_.margin < found->second.valid_until) return Ok{};
    copy = found->second;
  }
  auto kept = renew(key, copy);
  if (kept.ok() && *kept) return Ok{};
  return make_error(Errc::conflict, "fenced: the lease on " + describe_key(key) + " (epoch " +
                                        std::to_string(copy.epoch) +
                                        ") may have passed to another controller");
}

std::optional<std::int64_t> StoreLeases::epoch(const std::string& rollout_id,
                                               const std::string& region) const {
  std::lock_guard lock(mutex_);
  auto found = held_.find({rollout_id, region});
  if (found == held_.end()) return std::nullopt;
  return found->second.epoch;
}

bool StoreLeases::holds_all(const rollout::Rollout& rollout) const {
  std::lock_guard lock(mutex_);
  auto held = [&](const std::string& region) {
    auto found = held_.find({rollout.id, region});
    return found != held_.end() && !found->second.lost;
  };
  if (!held("")) return false;
  for (const auto& run : rollout.regions) {
    if (!rollout::terminal(run.state) && !held(run.region)) return false;
  }
  return true;
}

Result<json::Value> StoreLeases::describe() {
  std::lock_guard store_lock(*store_mutex_);
  auto& db = store_->db();
  std::string now = now_sql(db.dialect());
  json::Value replicas = json::Value::array();
  PW_TRY_ASSIGN(store::Statement query,
                db.prepare("SELECT id, url, started_at, " + now +
                           " - seen_ms FROM controller_replicas ORDER BY id"));
  for (;;) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    std::int64_t ago = query.integer(3);
    replicas.push_back({{"id", query.text(0)},
                        {"url", query.text(1)},
                        {"started_at", query.text(2)},
                        {"seen_ms_ago", ago},
                        {"live", ago < millis(options_.ttl)},
                        {"self", query.text(0) == options_.replica}});
  }
  json::Value leases = json::Value::array();
  PW_TRY_ASSIGN(store::Statement held,
                db.prepare("SELECT rollout_id, region, holder, epoch, expires_ms - " + now +
                           " FROM region_leases ORDER BY rollout_id, region"));
  for (;;) {
    PW_TRY_ASSIGN(bool row, held.step());
    if (!row) break;
    leases.push_back({{"rollout", held.text(0)},
                      {"region", held.text(1)},
                      {"holder", held.text(2)},
                      {"epoch", held.integer(3)},
                      {"expires_in_ms", held.integer(4)}});
  }
  return json::Value{{"self", options_.replica},
                     {"lease_ms", millis(options_.ttl)},
                     {"replicas", replicas},
                     {"leases", leases}};
}

}  // namespace pw::controller
