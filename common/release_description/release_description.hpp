// The release description: what a TUF target's `custom.release` object says about a
// release so that it can be rolled out — the app and its semantic version, the CVEs it
// fixes, its urgency, how to run the service and how to check its health.
//
//   "custom": {"release": {
//     "app": "demo-service", "version": "1.0.1",
//     "cves": ["CVE-2026-12345"], "urgency": "emergency",
//     "run": {"argv": ["bin/demo-service", "--port", "8080"], "env": {"MODE": "prod"}},
//     "health": {"kind": "http", "port": 8080, "path": "/healthz",
//                "interval_ms": 1000, "timeout_ms": 1000, "successes": 3}}}
//
// A target without `custom.release` is still a valid TUF target; it cannot be rolled
// out. See manifests/release.md and manifests/schemas/release.schema.json.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::release {

// Semantic Versioning 2.0.0; ordering follows its precedence rules (build metadata
// is ignored for ordering).
struct SemVer {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;
  std::string build;
  std::string text;  // as written

  static Result<SemVer> parse(std::string_view text);
  std::strong_ordering operator<=>(const SemVer& other) const;
  bool operator==(const SemVer& other) const { return (*this <=> other) == 0; }
};

enum class Urgency { routine, emergency };
const char* urgency_name(Urgency urgency);
Result<Urgency> parse_urgency(std::string_view text);

struct RunSpec {
  std::vector<std::string> argv;  // argv[0] relative to the release directory
  std::map<std::string, std::string> env;
};

struct HealthCheck {
  enum class Kind { http, tcp, command };
  Kind kind = Kind::http;
  std::uint16_t port = 0;         // http, tcp
  std::string path = "/";         // http
  std::vector<std::string> argv;  // command
  std::uint64_t interval_ms = 1000;
  std::uint64_t timeout_ms = 1000;
  std::uint64_t successes = 3;  // in a row
};
const char* health_kind_name(HealthCheck::Kind kind);

// Parses the command-line shorthand: "http:PORT/PATH", "tcp:PORT", or "command:ARGV..."
// (argv split on spaces). Interval, timeout and successes keep their defaults.
Result<HealthCheck> parse_health_shorthand(std::string_view text);

struct ReleaseDescription {
  std::string app;
  SemVer version;
  std::vector<std::string> cves;
  Urgency urgency = Urgency::routine;
  RunSpec run;
  HealthCheck health;
};

// Validates and reads `custom.release`. nullopt when the target has no release
// description; an error naming the field when it has a malformed one.
Result<std::optional<ReleaseDescription>> from_custom(const json::Value& custom,
                                                      std::string_view target);
Result<ReleaseDescription> from_json(const json::Value& release, std::string_view where);
json::Value to_json(const ReleaseDescription& release);

// Rules, exposed for the CLI: app names are [a-z0-9][a-z0-9._-]{0,63}; CVE ids are
// CVE-YYYY-NNNN with 4 or more digits.
Status check_app_name(std::string_view app);
Status check_cve_id(std::string_view cve);

}  // namespace pw::release
