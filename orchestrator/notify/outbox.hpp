// The outbox tables of migration 6, as the dispatcher reads and updates them (internal
// to orchestrator/notify). Callers hold the store mutex around every call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/store/database.hpp"

namespace pw::notify::outbox {

// A configured webhook as the outbox knows it.
struct Target {
  std::string key;                  // webhook_key(url)
  std::string endpoint;             // redact_url(url)
  std::vector<std::string> events;  // empty: all
};

// The sha256 of the URL: a stable name that does not reveal the URL's secret.
std::string webhook_key(const std::string& url);

// Gives every notification not yet fanned out one delivery per target whose filter
// lets its event through (due at `now_ms`), and marks it fanned out. One transaction;
// a no-op without such notifications. Notifications queued more than a day ago get no
// deliveries: news that old (queued while no webhook was configured, or just before a
// long outage) would only flood the channels once webhooks appear.
Status fan_out(store::Database& db, const std::vector<Target>& targets, std::int64_t now_ms);

struct Delivery {
  std::int64_t notification_id = 0;
  std::string event;
  std::string payload;
  int attempts = 0;
  std::int64_t next_at = 0;  // Unix ms
};

// The pending delivery of `webhook` due first (ties: the older notification).
Result<std::optional<Delivery>> next_delivery(store::Database& db, const std::string& webhook);

Status mark_delivered(store::Database& db, std::int64_t notification_id, const std::string& webhook,
                      int attempts, const std::string& time);
Status mark_retry(store::Database& db, std::int64_t notification_id, const std::string& webhook,
                  int attempts, std::int64_t next_at, const std::string& error);
Status mark_failed(store::Database& db, std::int64_t notification_id, const std::string& webhook,
                   int attempts, const std::string& time, const std::string& error);

}  // namespace pw::notify::outbox
