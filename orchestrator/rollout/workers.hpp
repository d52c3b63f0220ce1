// A small pool of threads for the engine's calls to many servers at once (stage, start,
// health): the same few threads for the whole life of the engine instead of a new thread
// per server per call (the loop asks every region's agents ten times a second while they
// stage, and thread creation was a visible share of the controller's CPU).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/errors/result.hpp"

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

// Calls that wait long and must not hold up the engine's loop (starting a region's
// services waits for every agent's startup window, and the loop drives every region):
// each runs on a thread of its own under a key, and the loop asks for its results on
// later ticks. Threads are joined on destruction.
class BackgroundCalls {
 public:
  using Results = std::vector<Status>;
  BackgroundCalls() = default;
  ~BackgroundCalls();
  BackgroundCalls(const BackgroundCalls&) = delete;
  BackgroundCalls& operator=(const BackgroundCalls&) = delete;

  // Starts `call` under `key` unless a call runs (or has finished unasked) there, then
  // waits up to `wait` for it. Its results once it has finished (the key is then free
  // again), nullopt while it runs. `call` must not throw.
  std::optional<Results> poll(const std::string& key, const std::function<Results()>& call,
                              std::chrono::milliseconds wait);

 private:
  struct Call {
    std::thread thread;
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;
    Results results;
  };
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Call>> calls_;
};

}  // namespace pw::rollout
