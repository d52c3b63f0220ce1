// What the scale benchmark reads about its own process (/proc/self/status, getrusage),
// and a Records port that forwards to the real one while timing each call, so that the
// report can say where the controller's time goes without a profiler.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "orchestrator/rollout/ports.hpp"

namespace pw::bench {

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); 0 when it cannot be read.
inline std::uint64_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  }
  return 0;
}

// utime + stime in microseconds, of the process (RUSAGE_SELF: every thread) or of the
// calling thread (RUSAGE_THREAD).
inline std::int64_t cpu_us(int who) {
  rusage usage{};
  getrusage(who, &usage);
  auto us = [](const timeval& tv) {
    return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000 + static_cast<std::int64_t>(tv.tv_usec);
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

inline std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Wall and CPU time of a stretch of the calling thread's work.
struct Span {
  std::int64_t calls = 0, wall = 0, cpu = 0;  // microseconds
  template <typename F>
  auto time(F fn) {
    std::int64_t w = wall_us(), c = cpu_us(RUSAGE_THREAD);
    auto result = fn();
    wall += wall_us() - w;
    cpu += cpu_us(RUSAGE_THREAD) - c;
    ++calls;
    return result;
  }
};

// The p-th percentile (0..100) of `values`, nearest rank; 0 when empty.
inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size()) + 0.999999);
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

// Forwards to the real Records port; times save() and save_audited(), counts the rest. Called only
// from the engine's thread, as in the controller.
class TimedRecords final : public rollout::Records {
 public:
  explicit TimedRecords(rollout::Records& inner) : inner_(&inner) {}
  Span saves;
  std::int64_t audits = 0, notifies = 0;

  Status save(const rollout::Rollout& rollout) override {
    return saves.time([&] { return inner_->save(rollout); });
  }
  Status save_audited(const rollout::Rollout& rollout, const rollout::AuditEntry& event) override {
    ++audits;
    return saves.time([&] { return inner_->save_audited(rollout, event); });
  }
  Result<std::vector<rollout::Command>> commands(const std::string& rollout_id) override {
    return inner_->commands(rollout_id);
  }
  Status command_done(const rollout::Command& command, const std::string& outcome) override {
    return inner_->command_done(command, outcome);
  }
  Status audit(const std::string& actor, const std::string& action, const json::Value& inputs,
               const std::string& outcome) override {
    ++audits;
    return inner_->audit(actor, action, inputs, outcome);
  }
  Result<std::vector<std::string>> approvals(const std::string& rollout_id,
                                             const std::string& region) override {
    return inner_->approvals(rollout_id, region);
  }
  Status notify(const std::string& event, const json::Value& fields,
                const std::string& text) override {
    ++notifies;
    return inner_->notify(event, fields, text);
  }

 private:
  rollout::Records* inner_;
};

}  // namespace pw::bench
