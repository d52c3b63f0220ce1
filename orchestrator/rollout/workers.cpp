#include "orchestrator/rollout/workers.hpp"

namespace pw::rollout {

Workers::~Workers() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void Workers::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    auto task = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    task();
    lock.lock();
    --busy_;
  }
}

void Workers::run_all(std::size_t count, const std::function<void(std::size_t)>& fn) {
  if (count == 0) return;
  std::mutex done_mutex;
  std::condition_variable done_wake;
  std::size_t left = count;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < count; ++i) {
      queue_.emplace_back([&, i] {
        fn(i);
        std::lock_guard done_lock(done_mutex);
        if (--left == 0) done_wake.notify_all();
      });
    }
    // A free thread (waiting, or starting) for each queued task, up to the bound.
    while (threads_.size() < max_threads_ && threads_.size() - busy_ < queue_.size()) {
      threads_.emplace_back([this] { loop(); });
    }
  }
  wake_.notify_all();
  std::unique_lock done_lock(done_mutex);
  done_wake.wait(done_lock, [&] { return left == 0; });
}

BackgroundCalls::~BackgroundCalls() {
  std::lock_guard lock(mutex_);
  for (auto& [key, call] : calls_) {
    if (call->thread.joinable()) call->thread.join();
  }
}

std::optional<BackgroundCalls::Results> BackgroundCalls::poll(const std::string& key,
                                                              const std::function<Results()>& call,
                                                              std::chrono::milliseconds wait) {
  std::shared_ptr<Call> running;
  {
    std::lock_guard lock(mutex_);
    auto& slot = calls_[key];
    if (!slot) {
      slot = std::make_shared<Call>();
      Call* raw = slot.get();
      raw->thread = std::thread([raw, call] {
        Results results = call();
        std::lock_guard done_lock(raw->mutex);
        raw->results = std::move(results);
        raw->done = true;
        raw->finished.notify_all();
      });
    }
    running = slot;
  }
  {
    std::unique_lock done_lock(running->mutex);
    if (!running->finished.wait_for(done_lock, wait, [&] { return running->done; })) {
      return std::nullopt;
    }
  }
  running->thread.join();
  std::lock_guard lock(mutex_);
  calls_.erase(key);
  return std::move(running->results);
}

}  // namespace pw::rollout
