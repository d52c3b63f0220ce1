// The agent's identity: its own private key (made on the first start, mode 0600, never
// leaves the server) and the certificate the controller's CA issued for it through
// enrollment. Later starts reuse both.
#pragma once

#include <string>

#include "agents/daemon/config.hpp"
#include "common/errors/result.hpp"

namespace pw::agent {

struct Identity {
  std::string key_file;          // <state>/tls/agent.key
  std::string certificate_file;  // <state>/tls/agent.crt
  std::string common_name;
  std::string fingerprint;  // sha256 of the certificate (DER), hex
  std::int64_t not_after = 0;
  bool enrolled_now = false;  // this start enrolled (else: reused)
};

// Returns the existing identity, or enrolls: CSR + one-time token to
// <controller_url>/v1/enroll over TLS (controller verified against controller_ca), and
// keeps the certificate only if it chains to that CA, names this agent and matches the
// key. Errors name the step and never include the token.
Result<Identity> ensure_identity(const AgentConfig& config);

}  // namespace pw::agent
