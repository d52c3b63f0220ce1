// The Dispatcher: one thread ("lane") per webhook. A lane fans new notifications out
// (any lane may; the outbox makes it idempotent), takes its own delivery due first,
// POSTs it without holding the store mutex, and records the outcome: delivered, a retry
// at now + backoff, or given up (audited). Between deliveries it sleeps until the next
// one is due, the poll interval passes, notify() or stop().
#include <algorithm>
#include <condition_variable>
#include <random>
#include <thread>

#include "common/log/log.hpp"
#include "orchestrator/notify/notify.hpp"
#include "orchestrator/notify/outbox.hpp"
#include "orchestrator/notify/webhook_post.hpp"

namespace pw::notify {
namespace {

// Only a fallback: notify() wakes the lanes when something is enqueued.
constexpr std::chrono::milliseconds kPollInterval{500};

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Dispatcher::Impl {
  store::Store& store;
  std::mutex& store_mutex;
  Options options;
  std::vector<std::string> urls;        // one per lane
  std::vector<outbox::Target> targets;  // parallel to urls

  std::mutex mutex;  // guards generation, stopping's transitions, threads
  std::condition_variable wake;
  std::uint64_t generation = 0;  // bumped by notify()
  std::atomic<bool> stopping{false};
  std::vector<std::thread> threads;

  Impl(store::Store& s, std::mutex& m, Options o)
      : store(s), store_mutex(m), options(std::move(o)) {}

  std::uint64_t current_generation() {
    std::lock_guard lock(mutex);
    return generation;
  }

  void sleep_until(std::chrono::steady_clock::time_point deadline, std::uint64_t seen) {
    std::unique_lock lock(mutex);
    wake.wait_until(lock, deadline, [&] { return stopping.load() || generation != seen; });
  }

  std::chrono::milliseconds backoff(int attempts, std::mt19937_64& random) const {
    std::int64_t delay = options.first_backoff.count();
    for (int i = 1; i < attempts && delay < options.max_backoff.count(); ++i) delay *= 2;
    delay = std::min(delay, options.max_backoff.count());
    // "Equal jitter": between half and all of the delay, so that webhooks failing
    // together do not retry together.
    std::uniform_int_distribution<std::int64_t> jitter(delay / 2, delay);
    return std::chrono::milliseconds(jitter(random));
  }

  // Ok(true) when the outcome was recorded; false when stop() cut the attempt short.
  Result<bool> attempt(std::size_t lane, const outbox::Delivery& delivery, WebhookPoster& poster,
                       std::mt19937_64& random);
  void run_lane(std::size_t lane);
};

Result<bool> Dispatcher::Impl::attempt(std::size_t lane, const outbox::Delivery& delivery,
                                       WebhookPoster& poster, std::mt19937_64& random) {
  const auto& target = targets[lane];
  auto answer = poster.post_json(urls[lane], delivery.payload);
  // An attempt that stop() cancelled is not counted; it is made again after a restart.
  if (!answer.ok() && stopping.load()) return false;
  int attempts = delivery.attempts + 1;
  bool delivered = answer.ok() && *answer >= 200 && *answer < 300;
  std::string error;
  if (!delivered) {
    error = answer.ok() ? "HTTP " + std::to_string(*answer) : answer.error().to_string();
    error = scrub_url(error, urls[lane]);
  }
  bool give_up = !delivered && attempts >= options.max_attempts;
  json::Value fields = {{"webhook", target.endpoint},
                        {"notification", delivery.notification_id},
                        {"event", delivery.event},
                        {"attempts", attempts}};
  Status recorded;
  std::chrono::milliseconds retry_in{0};
  {
    std::lock_guard lock(store_mutex);
    auto& db = store.db();
    if (delivered) {
      recorded = outbox::mark_delivered(db, delivery.notification_id, target.key, attempts,
                                        log::now_rfc3339());
    } else if (give_up) {
      // Audited before it is marked: a crash in between repeats the event rather than
      // losing it.
      auto audited =
          store.audit().append({"controller", "notify.failed", fields, "failed: " + error});
      if (!audited.ok()) {
        log::error("notify_audit_failed",
                   {{"webhook", target.endpoint}, {"error", audited.error().to_string()}});
      }
      recorded = outbox::mark_failed(db, delivery.notification_id, target.key, attempts,
                                     log::now_rfc3339(), error);
    } else {
      retry_in = backoff(attempts, random);
      recorded = outbox::mark_retry(db, delivery.notification_id, target.key, attempts,
                                    unix_ms() + retry_in.count(), error);
    }
  }
  if (give_up) {
    fields["error"] = error;
    log::error("notify_gave_up", fields);
  } else if (!delivered) {
    fields["error"] = error;
    fields["retry_in_ms"] = retry_in.count();
    log::warn("notify_attempt_failed", fields);
  }
  if (!recorded.ok()) return std::move(recorded).error();
  return true;
}

void Dispatcher::Impl::run_lane(std::size_t lane) {
  const auto& target = targets[lane];
  WebhookPoster poster(options.ca_file, options.timeout, &stopping);
  std::mt19937_64 random(std::random_device{}());
  while (!stopping.load()) {
    // Read before the store, so that a notify() during the read is not slept through.
    std::uint64_t seen = current_generation();
    Result<std::optional<outbox::Delivery>> next = std::optional<outbox::Delivery>{};
    {
      std::lock_guard lock(store_mutex);
      auto fanned = outbox::fan_out(store.db(), targets, unix_ms());
      next = fanned.ok() ? outbox::next_delivery(store.db(), target.key)
                         : Result<std::optional<outbox::Delivery>>(std::move(fanned).error());
    }
    auto now = std::chrono::steady_clock::now();
    if (!next.ok()) {
      log::warn("notify_store_error",
                {{"webhook", target.endpoint}, {"error", next.error().to_string()}});
      sleep_until(now + kPollInterval, seen);
      continue;
    }
    if (*next && (*next)->next_at <= unix_ms()) {
      auto done = attempt(lane, **next, poster, random);
      if (!done.ok()) {
        // Not recorded: wait before trying again rather than resending in a loop.
        log::warn("notify_store_error",
                  {{"webhook", target.endpoint}, {"error", done.error().to_string()}});
        sleep_until(now + kPollInterval, seen);
      }
      continue;
    }
    auto wait = kPollInterval;
    if (*next) {
      wait = std::min(wait, std::chrono::milliseconds((*next)->next_at - unix_ms()));
    }
    sleep_until(now + wait, seen);
  }
}

Dispatcher::Dispatcher(store::Store& store, std::mutex& store_mutex, Options options)
    : impl_(std::make_unique<Impl>(store, store_mutex, std::move(options))) {}

Dispatcher::~Dispatcher() { stop(); }

Status Dispatcher::start() {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->threads.empty()) {
    return make_error(Errc::conflict, "notifications: the dispatcher is already running");
  }
  auto valid = validate(impl_->options);
  if (!valid.ok()) return std::move(valid).error().with_context("notifications");
  // A URL listed twice is one webhook (one lane, one delivery per notification) that
  // takes the events of both entries.
  impl_->urls.clear();
  impl_->targets.clear();
  for (const auto& webhook : impl_->options.webhooks) {
    auto same = std::find(impl_->urls.begin(), impl_->urls.end(), webhook.url);
    if (same == impl_->urls.end()) {
      impl_->urls.push_back(webhook.url);
      impl_->targets.push_back(
          {outbox::webhook_key(webhook.url), redact_url(webhook.url), webhook.events});
      continue;
    }
    auto& events = impl_->targets[static_cast<std::size_t>(same - impl_->urls.begin())].events;
    if (events.empty() || webhook.events.empty()) {
      events.clear();
    } else {
      events.insert(events.end(), webhook.events.begin(), webhook.events.end());
    }
  }
  impl_->stopping = false;
  for (std::size_t lane = 0; lane < impl_->urls.size(); ++lane) {
    impl_->threads.emplace_back([this, lane] { impl_->run_lane(lane); });
  }
  return Ok{};
}

void Dispatcher::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    threads.swap(impl_->threads);
  }
  impl_->wake.notify_all();
  for (auto& thread : threads) thread.join();
}

void Dispatcher::notify() {
  {
    std::lock_guard lock(impl_->mutex);
    ++impl_->generation;
  }
  impl_->wake.notify_all();
}

}  // namespace pw::notify
