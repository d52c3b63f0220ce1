// libFuzzer target for the fleet policy reader (YAML through yaml-cpp, then every rule
// of manifests/fleet.md) and what the engine computes from a policy that passed:
// waves, the JSON view, window descriptions and the next window. Nothing may crash,
// leak, hang or read out of bounds.
#include <chrono>
#include <cstdint>
#include <string_view>

#include "orchestrator/fleet/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = pw::fleet::parse_policy(text, "fuzz.yaml");
  if (!policy.ok()) return 0;
  (void)policy->waves();
  (void)policy->to_json().dump();
  auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1'796'040'000));
  for (const auto& region : policy->regions) {
    (void)pw::fleet::describe_windows(region);
    (void)pw::fleet::in_window(region, when);
    (void)region.approvals_needed(true);
  }
  return 0;
}
