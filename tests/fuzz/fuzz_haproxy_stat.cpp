// libFuzzer target for HAProxy's `show stat` CSV as orchestrator/traffic reads it, and the
// canary analysis over two readings: the input is one answer, or two separated by a NUL
// byte (the baseline and the current reading of a step). Nothing may crash, leak, hang or
// read out of bounds, and a verdict always has a reason.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "orchestrator/traffic/analysis.hpp"
#include "orchestrator/traffic/stat.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto nul = bytes.find('\0');
  std::string first(bytes.substr(0, nul));
  std::string second(nul == std::string_view::npos ? bytes : bytes.substr(nul + 1));
  auto baseline = pw::traffic::parse_stat(first);
  auto current = pw::traffic::parse_stat(second);
  if (!baseline.ok() || !current.ok()) return 0;
  // The new servers: every other server of the current reading.
  std::set<std::string> new_servers;
  bool pick = true;
  for (const auto& server : current->servers) {
    if (pick) new_servers.insert(server.server);
    pick = !pick;
  }
  for (double max_error_rate : {0.0, 1.0, 100.0}) {
    pw::traffic::Thresholds thresholds;
    thresholds.max_error_rate = max_error_rate;
    thresholds.min_requests = max_error_rate > 50 ? 0 : 20;
    auto verdict =
        pw::traffic::analyze(baseline->servers, current->servers, new_servers, thresholds);
    if (verdict.reason.empty()) std::abort();
    (void)pw::traffic::outcome_name(verdict.outcome);
    (void)verdict.figures.dump();
  }
  return 0;
}
