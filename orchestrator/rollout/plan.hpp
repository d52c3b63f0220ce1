// `patchwave rollout plan`: what a rollout of a release would do, computed from the same
// policy and the same rules as the engine, changing nothing.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "orchestrator/rollout/engine.hpp"

namespace pw::rollout {

// `serving`: each region's servers in service now (what the rollout would retire).
// Server names of the rollout to be are shown with "<id>" for the rollout id.
Result<json::Value> plan(const fleet::Policy& policy, const ReleaseInfo& release,
                         const std::vector<std::string>& regions,
                         const std::map<std::string, std::vector<ServerRef>>& serving,
                         const Options& options);

// The plan as text, for people.
std::string render_plan(const json::Value& plan);

}  // namespace pw::rollout
