// The dashboard's JSON views (`GET /ui/api/...`, docs/DASHBOARD.md): what an operator
// sees, derived from the controller's API answers (the same JSON `/v1/...` returns) so
// that the page and `patchwave rollout status --watch` show the same thing. Pure
// functions of their inputs and the time `now`, so they are tested without a controller.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/json/json.hpp"
#include "orchestrator/controller/ui/history.hpp"

namespace pw::dashboard {

// "4s", "2m 05s", "1h 02m", "3d 4h"; negative as 0s.
std::string format_duration(Millis ms);
// A shell word: as it is when it is plain ([A-Za-z0-9@%+=:,./_-]), in single quotes
// otherwise.
std::string shell_quote(std::string_view word);

// What the views know besides a rollout's record.
struct ViewContext {
  json::Value policy;  // the verified fleet policy (`GET /v1/fleet` "policy"), or null
  Millis now = 0;
  // Region -> when all its traffic reached the new release (the audit history).
  std::map<std::string, Millis> full_traffic_at;
  // Region -> servers in service now (`GET /v1/servers`): what a region that has not
  // recorded the servers it replaces yet (pending, at its gate) still runs on.
  std::map<std::string, int> serving;
};

// A region's canary steps in percent as the engine will use them: the policy's (its
// emergency timing for an emergency), [100] for a first deployment.
json::Value canary_steps(const json::Value& rollout, const json::Value& run,
                         const json::Value& policy);
// The share of the region's traffic on the new servers and on the old ones, in percent
// ({"new", "old"}); both 0 while a region has no servers in service at all (a first
// deployment before its shift). `serving`: servers in service in the region now, for a
// region that has not recorded what it replaces yet.
json::Value traffic_split(const json::Value& run, int serving = 0);
// 0..100 along pending -> ... -> succeeded (shifting by the traffic on the new servers).
int progress_percent(const json::Value& run);

// One region of a rollout: state, step, traffic split, health, time in state, time to
// patch, and what it waits for.
json::Value region_view(const json::Value& rollout, const json::Value& run,
                        const ViewContext& context);
// A rollout (`GET /v1/rollouts/{id}`) with every region's view; `context.full_traffic_at`
// is that rollout's.
json::Value rollout_view(const json::Value& detail, const ViewContext& context);
// The rollout list (`GET /v1/rollouts`), newest first.
json::Value rollouts_view(const json::Value& list, Millis now);
// Open approval requests (`GET /v1/approvals`): what each would change, and the
// commands an approver runs (approvals stay signatures made with the approver's key).
json::Value approvals_view(const json::Value& pending, Millis now);
// Servers (`GET /v1/servers`) by region, with the regions of the policy that have none.
json::Value servers_view(const json::Value& servers, const json::Value& policy);
// Releases (`GET /v1/releases`) with their CVEs, urgency and the rollouts of each.
json::Value releases_view(const json::Value& releases, const json::Value& rollouts);
// The newest `limit` events (`GET /v1/audit/events`), newest first, and the chain's
// status (`GET /v1/audit/verify`).
json::Value audit_view(const json::Value& events, const json::Value& chain, std::size_t limit);

}  // namespace pw::dashboard
