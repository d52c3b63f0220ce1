// What one region's step of a tick works with (engine.cpp, region.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

#include "orchestrator/fleet/policy.hpp"
#include "orchestrator/rollout/engine.hpp"

namespace pw::rollout {

struct Engine::Ctx {
  Rollout& rollout;
  RegionRun& run;
  const fleet::Policy& policy;
  const fleet::Region& region;
  const fleet::Timing& timing;
  Millis now = 0;
  std::uint16_t port = 0;         // the service's port on each server
  Millis health_interval = 1000;  // from the release's health spec
  std::uint32_t successes = 3;    // in a row: the larger of the policy's and the release's
  // Set by a step that only waits: nothing is due for the region before then (the next
  // health check, the end of a step, a timeout). Left at 0, the region wants the next
  // tick soon (Engine::wake).
  Millis quiet_until = 0;
  void quiet(Millis until) {
    quiet_until = quiet_until == 0 ? until : std::min(quiet_until, until);
  }
};

// "host:port" -> "host"
std::string host_of(const std::string& address);

// Honoured as an emergency (the controller checked the countersignatures).
inline bool is_emergency(const Rollout& rollout) { return rollout.urgency == "emergency"; }

// "demo-service 1.0.1": how messages name the release.
inline std::string release_name(const Rollout& rollout) {
  return rollout.app + " " + rollout.version;
}

}  // namespace pw::rollout
