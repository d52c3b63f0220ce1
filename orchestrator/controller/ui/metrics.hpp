// `/metrics`: the controller's state and history in the Prometheus text format. The
// current state comes from the API's answers (rollouts, regions, approvals, servers),
// the history (phase durations, time to patch, rollbacks, syncs) from the audit log
// (history.hpp). Every name is listed in docs/DASHBOARD.md.
#pragma once

#include <string>
#include <vector>

#include "common/json/json.hpp"
#include "orchestrator/controller/ui/history.hpp"

namespace pw::dashboard {

struct MetricsInput {
  std::string controller;            // its name
  json::Value rollouts;              // GET /v1/rollouts
  std::vector<json::Value> details;  // GET /v1/rollouts/{id}: those in progress and the latest
  json::Value approvals;             // GET /v1/approvals
  json::Value servers;               // GET /v1/servers
  json::Value status;                // GET /v1/status
  json::Value policy;                // the verified fleet policy, or null
  Millis now = 0;
};

std::string render_metrics(const MetricsInput& input, const History& history);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace pw::dashboard
