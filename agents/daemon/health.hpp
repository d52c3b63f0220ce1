// One run of a release's health check, on this server: an HTTP GET (2xx is healthy) or a
// TCP connect to the address the service was told to listen on, or a command (exit 0 is
// healthy), bounded by its timeout.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/json/json.hpp"
#include "common/release_description/release_description.hpp"

namespace pw::agent {

struct HealthResult {
  bool healthy = false;
  std::string kind;
  std::string detail;  // "HTTP 200", "connection refused", "exit 1: <output>"
  std::int64_t elapsed_ms = 0;
  std::string checked_at;
  json::Value to_json() const;
};

// HTTP and TCP checks connect to `host` (an IP address: the service's own address, e.g.
// the agent's 127.R.S.N) on `port`, which replaces the check's port (the port the agent
// gave the service); command checks run in `release_dir` with `env`.
HealthResult run_health_check(const release::HealthCheck& check, const std::string& host,
                              std::uint16_t port, const std::string& release_dir,
                              const std::map<std::string, std::string>& env);

}  // namespace pw::agent
