// The fleet policy: which regions a release rolls out to, in which waves, on how many
// fresh servers behind which HAProxy backend, who approves each region (a threshold of
// that region's own keys), when it may land (maintenance windows in the region's time
// zone) and how fast (canary steps, waits, bake time, the emergency fast path, which only
// a threshold of the security officers' keys can open).
//
// The policy is a YAML document that is itself a signed TUF target in the manifests
// repository, so changing who may approve needs the same signatures as a release. This
// module only parses and validates it; every error names the field path and the rule:
//   fleet.yaml:31:18: regions[2].approvers.threshold: must be between 1 and the number of
//   keys (3)
// The format is described in manifests/fleet.md (example: manifests/examples/fleet.yaml).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.hpp"
#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::fleet {

// A weekly maintenance window in local time. `days` are the days the window *opens*
// (0 = Monday .. 6 = Sunday, sorted, no duplicates); a window whose end is before its
// start crosses midnight and closes on the next day. [start, end) in minutes after local
// midnight.
struct Window {
  std::vector<int> days;
  int start_minute = 0;
  int end_minute = 0;
  std::string timezone;  // an IANA zone that exists in the tz database
};

struct Approvers {
  std::size_t threshold = 1;            // 1..keys.size()
  std::vector<crypto::PublicKey> keys;  // supported, distinct key material
};

struct Provider {
  std::string kind;                   // "local" or "script"
  std::vector<std::string> command;   // script only: argv, non-empty
  std::chrono::seconds timeout{120};  // script only
  std::map<std::string, std::string> params;
};

struct Timing {
  std::vector<int> canary_steps;  // percent, strictly increasing, last is 100
  std::uint32_t health_successes = 3;
  std::chrono::seconds step_wait{60};
  std::chrono::seconds bake_time{600};
  double max_error_rate = 1.0;  // percent of failed requests that triggers a rollback
};

struct Region {
  std::string name;          // [a-z0-9-]{1,32}, unique
  std::string display_name;  // the name when not given
  int wave = 1;              // >= 1; same wave rolls out together
  Provider provider;
  int servers = 2;      // 1..100
  std::string backend;  // HAProxy backend, unique across regions
  Approvers approvers;
  std::vector<Window> windows;  // none: any time
  Timing timing;
  // How long an approval request for this region stays open before it expires.
  std::chrono::seconds approval_timeout{86400};
  Timing emergency_timing;  // same checks, waits never longer than `timing`'s
  bool emergency_skips_windows = false;
  // Approvals an honoured emergency needs here: 0..approvers.threshold (0 = none). The
  // parser always resolves it (an absent `emergency.approvals` is approvers.threshold);
  // a region built by hand that leaves it alone needs the full threshold (fails closed).
  std::size_t emergency_approvals = static_cast<std::size_t>(-1);
  std::string failure_policy;  // "halt" or "continue"

  // Distinct approvers' signatures the gate waits for (0: it opens without).
  std::size_t approvals_needed(bool emergency) const {
    if (!emergency || emergency_approvals > approvers.threshold) return approvers.threshold;
    return emergency_approvals;
  }
};

struct Policy {
  int version = 1;
  std::vector<Region> regions;
  // Who may declare an emergency: an emergency release is honoured only when a threshold
  // of these keys has countersigned it. Without them no release takes the emergency path.
  std::optional<Approvers> security_officers;
  // `emergency_waves: single`: an honoured emergency rolls out to every region in one
  // wave instead of the policy's waves.
  bool emergency_single_wave = false;

  // The region of that name, or nullptr. Pointers point into `regions`.
  const Region* find(std::string_view name) const;
  // Regions grouped by wave in ascending wave order; document order within a wave.
  std::vector<std::vector<const Region*>> waves() const;
  // For `patchwave fleet show --output json`: keys with their keyid, durations in
  // seconds (`*_seconds`), days as names, times as "HH:MM".
  json::Value to_json() const;
};

// Parses and validates a fleet policy. `source_name` (e.g. "fleet.yaml") starts every
// error: "fleet.yaml:LINE:COLUMN: FIELD.PATH: rule". Errc::parse for malformed or invalid
// documents, Errc::unsupported for an approver key of a type that cannot sign,
// Errc::limit for a document over 1 MiB.
Result<Policy> parse_policy(std::string_view yaml_text, std::string_view source_name);

// Is `when` inside one of the region's windows (true when it has none)? Evaluated in each
// window's time zone, so it is correct across daylight-saving changes. A window whose
// time zone cannot be loaded never matches (fails closed).
bool in_window(const Region& region, std::chrono::system_clock::time_point when);

// The first instant >= `when` at which the region is inside a window: `when` itself if it
// is inside one, nullopt if the region has no windows (or none opens within ~16 months).
std::optional<std::chrono::system_clock::time_point> next_window_start(
    const Region& region, std::chrono::system_clock::time_point when);

// The region's windows for status displays, "; "-separated, e.g.
// "mon-fri 20:00-06:00 Europe/Berlin; sat 06:00-18:00 Europe/Berlin". Consecutive days
// are collapsed into ranges (also across Sunday: "fri-mon"), others listed ("mon,wed,fri"),
// all seven are "daily"; "any time" when the region has no windows.
std::string describe_windows(const Region& region);

// "mon".."sun" for 0..6; "?" otherwise.
const char* day_name(int day);
// "90s", "10m", "2h", "1d": the largest unit that divides the duration exactly.
std::string format_duration(std::chrono::seconds duration);

}  // namespace pw::fleet
