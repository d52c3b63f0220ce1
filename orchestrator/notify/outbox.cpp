#include "orchestrator/notify/outbox.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>

#include "common/crypto/hash.hpp"

namespace pw::notify::outbox {
namespace {

// The wall clock a day ago as created_at is written (RFC 3339 UTC, seconds), computed
// here rather than in SQL so that both store engines compare the same text.
std::string rfc3339_day_ago() {
  auto then = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() -
                                                   std::chrono::hours(24));
  std::tm utc{};
  gmtime_r(&then, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

}  // namespace

std::string webhook_key(const std::string& url) { return crypto::sha256_hex(url); }

Status fan_out(store::Database& db, const std::vector<Target>& targets, std::int64_t now_ms) {
  // Read outside a transaction first: nearly always there is nothing to do.
  struct Pending {
    std::int64_t id;
    std::string event;
    bool stale;
  };
  std::vector<Pending> pending;
  {
    PW_TRY_ASSIGN(store::Statement query,
                  db.prepare("SELECT id, event, CASE WHEN created_at < ?1 THEN 1 ELSE 0 END "
                             "FROM notifications WHERE fanned_out = 0 ORDER BY id"));
    query.bind(1, rfc3339_day_ago());
    for (;;) {
      PW_TRY_ASSIGN(bool row, query.step());
      if (!row) break;
      pending.push_back({query.integer(0), query.text(1), query.integer(2) != 0});
    }
  }
  if (pending.empty()) return Ok{};
  return db.transaction([&]() -> Status {
    for (const auto& [id, event, stale] : pending) {
      for (const auto& target : targets) {
        if (stale) continue;
        if (!target.events.empty() &&
            std::find(target.events.begin(), target.events.end(), event) == target.events.end()) {
          continue;
        }
        PW_TRY_ASSIGN(store::Statement insert,
                      db.prepare("INSERT INTO notification_deliveries "
                                 "(notification_id, webhook, endpoint, next_at) "
                                 "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"));
        insert.bind(1, id).bind(2, target.key).bind(3, target.endpoint).bind(4, now_ms);
        PW_TRY(insert.run());
      }
      PW_TRY_ASSIGN(store::Statement done,
                    db.prepare("UPDATE notifications SET fanned_out = 1 WHERE id = ?1"));
      done.bind(1, id);
      PW_TRY(done.run());
    }
    return Ok{};
  });
}

Result<std::optional<Delivery>> next_delivery(store::Database& db, const std::string& webhook) {
  PW_TRY_ASSIGN(store::Statement query,
                db.prepare("SELECT d.notification_id, n.event, n.payload, d.attempts, d.next_at "
                           "FROM notification_deliveries d "
                           "JOIN notifications n ON n.id = d.notification_id "
                           "WHERE d.webhook = ?1 AND d.delivered_at IS NULL "
                           "AND d.failed_at IS NULL "
                           "ORDER BY d.next_at, d.notification_id LIMIT 1"));
  query.bind(1, webhook);
  PW_TRY_ASSIGN(bool row, query.step());
  if (!row) return std::optional<Delivery>{};
  return std::optional<Delivery>(Delivery{query.integer(0), query.text(1), query.text(2),
                                          static_cast<int>(query.integer(3)), query.integer(4)});
}

Status mark_delivered(store::Database& db, std::int64_t notification_id, const std::string& webhook,
                      int attempts, const std::string& time) {
  PW_TRY_ASSIGN(store::Statement statement,
                db.prepare("UPDATE notification_deliveries SET attempts = ?3, delivered_at = ?4, "
                           "last_error = '' WHERE notification_id = ?1 AND webhook = ?2"));
  statement.bind(1, notification_id).bind(2, webhook).bind(3, std::int64_t{attempts});
  statement.bind(4, time);
  return statement.run();
}

Status mark_retry(store::Database& db, std::int64_t notification_id, const std::string& webhook,
                  int attempts, std::int64_t next_at, const std::string& error) {
  PW_TRY_ASSIGN(store::Statement statement,
                db.prepare("UPDATE notification_deliveries SET attempts = ?3, next_at = ?4, "
                           "last_error = ?5 WHERE notification_id = ?1 AND webhook = ?2"));
  statement.bind(1, notification_id).bind(2, webhook).bind(3, std::int64_t{attempts});
  statement.bind(4, next_at).bind(5, error);
  return statement.run();
}

Status mark_failed(store::Database& db, std::int64_t notification_id, const std::string& webhook,
                   int attempts, const std::string& time, const std::string& error) {
  PW_TRY_ASSIGN(store::Statement statement,
                db.prepare("UPDATE notification_deliveries SET attempts = ?3, failed_at = ?4, "
                           "last_error = ?5 WHERE notification_id = ?1 AND webhook = ?2"));
  statement.bind(1, notification_id).bind(2, webhook).bind(3, std::int64_t{attempts});
  statement.bind(4, time).bind(5, error);
  return statement.run();
}

}  // namespace pw::notify::outbox
