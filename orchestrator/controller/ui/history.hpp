// What the audit log says about the rollouts over time, read once from its start and
// then incrementally (events in order, each seen once): how long regions spent in each
// phase, when each region had all of its traffic on the new release (time to patch),
// health gate and canary analysis results, rollbacks and their reasons, syncs,
// approvals and refused requests. The dashboard shows some of it and `/metrics` all.
//
// The audit log is the source because it is complete and durable: nothing is lost
// between two scrapes, and a restarted controller counts the same. Event times have a
// resolution of one second; an event whose inputs carry `at_ms` (milliseconds since the
// Unix epoch) is placed by that instead.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "common/json/json.hpp"
#include "orchestrator/controller/ui/metrics_text.hpp"

namespace pw::dashboard {

using Millis = std::int64_t;  // milliseconds since the Unix epoch

// "2026-11-29T02:10:00Z" -> milliseconds; 0 when it is not such a time.
Millis parse_rfc3339_ms(const std::string& text);

// The kind of reason a region rolled back for, as a small fixed set for a metric label:
// analysis, analysis_timeout, health, provisioning, staging, start, traffic, operator,
// policy, other.
std::string rollback_reason_class(const std::string& reason);

class History {
 public:
  // One audit event as `GET /v1/audit/events` lists it ({seq, time, actor, action,
  // inputs, outcome, ...}). Events at or below the last seq seen are ignored.
  void add(const json::Value& event);
  std::int64_t last_seq() const { return last_seq_; }

  // When every request of the region went to the new release (its move to baking);
  // 0 if that has not happened (yet).
  Millis full_traffic_at(const std::string& rollout, const std::string& region) const;
  // Region -> full_traffic_at for one rollout.
  std::map<std::string, Millis> full_traffic(const std::string& rollout) const;

  // The counter and histogram families (see docs/DASHBOARD.md for the names).
  void render(Exposition& out) const;

 private:
  struct Track {
    std::string state;
    Millis since = 0;
  };
  struct RolloutInfo {
    Millis created = 0;
    std::string urgency = "routine";
  };
  void observe_phase(const std::string& phase, Millis from, Millis to);
  void region_event(const json::Value& inputs, const std::string& outcome, Millis at);

  std::int64_t last_seq_ = 0;
  std::map<std::string, RolloutInfo> rollouts_;
  std::map<std::pair<std::string, std::string>, Track> tracks_;
  std::map<std::pair<std::string, std::string>, Millis> full_traffic_;
  std::map<std::string, Histogram> phase_seconds_;
  std::map<std::string, Histogram> time_to_patch_;  // by urgency
  Histogram restore_seconds_{duration_buckets()};
  std::map<std::string, std::uint64_t> health_, analyses_, rollbacks_, finished_, syncs_,
      approvals_, refused_, commands_;
  std::uint64_t notify_failed_ = 0;
  Millis last_sync_ok_ = 0;
};

}  // namespace pw::dashboard
