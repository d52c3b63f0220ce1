// A small pool of threads for the engine's calls to many servers at once (stage, start,
// health): the same few threads for the whole life of the engine instead of a new thread
// per server per call (the loop asks every region's agents ten times a second while they
// stage, and thread creation was a visible share of the controller's CPU).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pw::rollout {

class Workers {
 public:
  // Threads are started as needed, up to `max_threads`, and kept.
  explicit Workers(std::size_t max_threads) : max_threads_(max_threads) {}
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  // Runs fn(0) .. fn(count - 1), at most max_threads at once, and returns when all have
  // returned. fn must not throw. Safe to call from several threads.
  void run_all(std::size_t count, const std::function<void(std::size_t)>& fn);

 private:
  void loop();

  std::size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t busy_ = 0;  // threads running a task
  bool stopping_ = false;
};

}  // namespace pw::rollout
