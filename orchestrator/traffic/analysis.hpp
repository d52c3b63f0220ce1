// Canary analysis after a traffic step, pure logic: `show stat` of the backend at the
// start of the step (baseline) and at its end (current). The servers named in
// new_servers are judged against every other server of the backend (the old ones) on
// the counters' differences:
//   requests = stot, errors = hrsp_5xx + econ + eresp + srv_abrt + wretr (HAProxy's docs
//   say eresp includes srv_abrt, so an abort may count twice; errors are capped at
//   requests). wretr counts the failed attempts HAProxy retried on another server: the
//   clients never saw those failures, the analysis must.
// Both lists are one backend's servers, matched by server name (the backend field is not
// compared). A server missing from the baseline counts from 0; a counter that went backwards
// (HAProxy restarted, or the server was re-added) makes the step inconclusive.
//   - fewer than min_requests on the new servers: inconclusive;
//   - new error rate - old error rate > max_error_rate points: fail (the old rate is 0
//     without old servers or with fewer than min_requests on them);
//   - only with >= min_requests on the old servers: average response time (rtime,
//     weighted by requests) above max(latency_floor_ms, old * max_latency_ratio): fail;
//   - else pass.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/json/json.hpp"
#include "orchestrator/traffic/stat.hpp"

namespace pw::traffic {

struct Thresholds {
  double max_error_rate = 1.0;  // percentage points above the old servers' rate
  std::uint64_t min_requests = 20;
  double max_latency_ratio = 2.0;
  std::uint64_t latency_floor_ms = 50;
};

enum class Outcome { pass, fail, inconclusive };

struct Verdict {
  Outcome outcome = Outcome::inconclusive;
  std::string reason;  // one sentence for people: the figures and the rule applied
  // {"new": {"requests", "errors", "error_rate", "latency_ms"}, "old": {...}} for the
  // audit log: integers, error_rate a string in percent ("7.50"), latency_ms null
  // without requests (canonical JSON has no floats).
  json::Value figures;
};

Verdict analyze(const std::vector<ServerStat>& baseline, const std::vector<ServerStat>& current,
                const std::set<std::string>& new_servers, const Thresholds& thresholds);

// "pass", "fail", "inconclusive".
const char* outcome_name(Outcome outcome);

}  // namespace pw::traffic
