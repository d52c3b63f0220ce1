// A routine rollout of demo 1.0.1 with id r1 into `regions` (the StoreRecords tests).
#pragma once

#include <initializer_list>
#include <string>

#include "orchestrator/rollout/model.hpp"

namespace pw::test {

inline rollout::Rollout a_rollout(std::initializer_list<const char*> regions) {
  rollout::Rollout r;
  r.id = "r1";
  r.app = "demo";
  r.version = "1.0.1";
  r.target = "demo/1.0.1.tar.gz";
  r.sha256 = std::string(64, 'a');
  r.urgency = "routine";
  for (const char* name : regions) {
    rollout::RegionRun run;
    run.region = name;
    r.regions.push_back(run);
  }
  return r;
}

}  // namespace pw::test
