// Webhook notifications: Slack, Microsoft Teams and Matrix incoming webhooks hear about
// approvals, regions and rollouts.
//
// A durable outbox in the store (migration 6): the controller calls enqueue() under its
// store mutex when something happens; it only inserts a row. The Dispatcher, on threads
// of its own, fans each notification out to the configured webhooks whose filter lets
// its event through and POSTs the payload, retrying with exponential backoff and jitter.
// Undelivered notifications survive a restart. A webhook that gives up after
// max_attempts is recorded in the store and in the audit log (`notify.failed`).
//
// Webhook URLs carry secrets (Slack's /services/T../B../XXXX, tokens in queries): only
// redact_url() of them ever reaches a log line, an error or the audit log.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::notify {

// The events a notification can carry, and a webhook can filter on:
//   approval.requested approval.rejected approval.expired
//   region.succeeded region.rolled_back rollout.finished
const std::vector<std::string>& known_events();
bool is_known_event(const std::string& event);
// "approval.requested, approval.rejected, ..." for error messages.
std::string known_events_list();

// Scheme, host and port only: "https://hooks.slack.com/…", "http://127.0.0.1:8080/…".
// A URL that does not parse becomes "(invalid URL)", never its text.
std::string redact_url(const std::string& url);

// Queues a notification: one row, no network I/O, no transaction of its own (so it may
// run inside the caller's). The payload webhooks receive is
//   {"text": TEXT, "event": EVENT, ...fields, "time": RFC 3339 UTC}
// `text` is the line chat tools display ("Patchwave: approval requested for
// demo-service 1.0.1 in region bw: 2 of 3 approvers"); `fields` (an object, or null)
// are for machines and cannot override text, event or time. Errc::invalid_argument for
// an unknown event or fields that are not an object. Call Dispatcher::notify() after
// the caller's transaction commits so delivery starts at once.
Status enqueue(store::Database& db, const std::string& event, const json::Value& fields,
               const std::string& text);

struct Webhook {
  std::string url;                  // http:// or https://
  std::vector<std::string> events;  // empty: all
};

struct Options {
  std::vector<Webhook> webhooks;
  int max_attempts = 8;
  std::chrono::milliseconds first_backoff{1000}, max_backoff{60000};
  // Bounds each network step of one attempt (connect, TLS, send, answer).
  std::chrono::milliseconds timeout{5000};
  // PEM CA certificates for https webhooks; empty: the system's bundle
  // (kSystemCaBundle).
  std::string ca_file;
};

inline constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

// Checks what the Dispatcher needs (URLs parse, event names known, limits positive).
// Errors name the webhook by index, never by URL: "webhooks[0].events: unknown event".
Status validate(const Options& options);

// Delivers the outbox. One thread per webhook, so a failing or hanging webhook delays
// only its own messages; each takes the store mutex only around database access, never
// during network I/O. Delivery order per webhook follows the outbox, except that a
// message waiting for its retry does not hold back the ones after it.
// The store and the mutex must outlive the Dispatcher (or its stop()).
class Dispatcher {
 public:
  Dispatcher(store::Store& store, std::mutex& store_mutex, Options options);
  ~Dispatcher();  // stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Validates the options and starts the threads (none without webhooks; enqueued
  // notifications then stay in the outbox). Errc::conflict when already started.
  Status start();
  // Prompt: wakes the threads and joins them. An attempt over plain http is cancelled
  // at once; one over https ends within `timeout` per network step. Idempotent.
  void stop();
  // Wakes the threads after enqueue(), so delivery does not wait for the next poll
  // (500 ms). Cheap; may be called with the store mutex held.
  void notify();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pw::notify
