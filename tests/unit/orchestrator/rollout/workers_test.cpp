// The engine's worker threads: every call runs once, within the bound, on kept threads.
#include "orchestrator/rollout/workers.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using pw::rollout::Workers;

TEST_CASE("workers run every index once and return when all are done") {
  Workers workers(4);
  std::vector<std::atomic<int>> runs(50);
  workers.run_all(runs.size(), [&](std::size_t i) { runs[i].fetch_add(1); });
  for (auto& n : runs) REQUIRE(n.load() == 1);
  workers.run_all(0, [](std::size_t) { FAIL("nothing to run"); });
}

TEST_CASE("workers never run more than their bound at once, and keep their threads") {
  Workers workers(3);
  std::atomic<int> now{0}, most{0};
  std::mutex ids_mutex;
  std::set<std::thread::id> ids;
  for (int round = 0; round < 3; ++round) {
    workers.run_all(9, [&](std::size_t) {
      int running = now.fetch_add(1) + 1;
      int seen = most.load();
      while (running > seen && !most.compare_exchange_weak(seen, running)) {
      }
      {
        std::lock_guard lock(ids_mutex);
        ids.insert(std::this_thread::get_id());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      now.fetch_sub(1);
    });
  }
  REQUIRE(most.load() <= 3);
  REQUIRE(most.load() >= 2);  // they do run side by side
  REQUIRE(ids.size() <= 3);   // 27 calls, the same three threads
}

TEST_CASE("workers serve several callers at once") {
  Workers workers(2);
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] { workers.run_all(25, [&](std::size_t) { total.fetch_add(1); }); });
  }
  for (auto& t : callers) t.join();
  REQUIRE(total.load() == 100);
}

TEST_CASE("a background call answers on a later poll, once, and its key is free again") {
  pw::rollout::BackgroundCalls calls;
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  auto call = [&] {
    ++runs;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return pw::rollout::BackgroundCalls::Results{pw::Status(pw::Ok{})};
  };
  CHECK_FALSE(calls.poll("a", call, std::chrono::milliseconds(0)));  // started, still running
  CHECK_FALSE(calls.poll("a", call, std::chrono::milliseconds(5)));  // the same call, not a new one
  release = true;
  auto answers = calls.poll("a", call, std::chrono::seconds(5));
  REQUIRE(answers);
  CHECK(answers->size() == 1);
  CHECK(runs.load() == 1);
  auto again = calls.poll("a", call, std::chrono::seconds(5));  // a new call under the key
  REQUIRE(again);
  CHECK(runs.load() == 2);
}
