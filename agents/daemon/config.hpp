// The agent's configuration: a JSON file (written by the provisioner, e.g. cloud-init),
// then PATCHWAVE_AGENT_<KEY> environment variables, then command-line flags, each
// overriding the one before. Unknown keys and wrong types are errors naming the key.
//
//   {"name": "eu-west-1a-7", "state_dir": "/var/lib/patchwave-agent",
//    "listen": "127.0.0.1:7443", "controller_url": "https://controller:8443",
//    "controller_ca": "/etc/patchwave/ca.pem", "pinned_root": "/etc/patchwave/root.json",
//    "enrollment_token_file": "/etc/patchwave/token"}
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::agent {

struct AgentConfig {
  std::string name;       // identity: the certificate's common name
  std::string state_dir;  // keys, certificate, trusted metadata, releases, logs
  std::string listen = "127.0.0.1:7443";
  std::string controller_url;                            // https://host:port
  std::string controller_ca;                             // PEM file
  std::string controller_name = "patchwave-controller";  // name in the controller's client cert
  std::string pinned_root;                               // root.json shipped with the agent
  std::string enrollment_token;                          // or:
  std::string enrollment_token_file;
  std::vector<std::string> certificate_ips = {"127.0.0.1"};  // names asked for in the CSR
  std::vector<std::string> certificate_dns;
  std::string log_format = "text";         // text | json
  std::uint64_t startup_window_ms = 1000;  // a service that exits within it failed to start
  std::uint64_t stop_grace_ms = 10'000;    // SIGTERM -> SIGKILL
  std::uint64_t service_log_cap_bytes = 8u << 20;
  std::uint64_t max_request_bytes = 8u << 20;
  std::uint64_t network_timeout_ms = 30'000;
  // Attempts in a row that bring no new byte (resumed with range requests in between,
  // waits doubling from 0.2 s to 5 s): 8 give up after about 16 s without progress.
  std::uint64_t download_attempts = 8;

  // Splits `listen` into address and port.
  Result<std::pair<std::string, std::uint16_t>> listen_endpoint() const;
};

// Reads FILE (may be empty: no file), then the environment through `getenv`.
Result<AgentConfig> load_config(const std::string& file,
                                const std::function<const char*(const char*)>& getenv);

// Sets one key from text (flags and environment variables use this).
Status set_config_value(AgentConfig& config, const std::string& key, const std::string& value);

// Required keys present and values usable; errors name the key.
Status validate(const AgentConfig& config);

}  // namespace pw::agent
