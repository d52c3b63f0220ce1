// `patchwave-agent run`: the long-running agent. Enrolls (or reuses its identity), then
// serves its API over mutual TLS until SIGTERM/SIGINT (stops the service, exits 0) or
// until it is decommissioned (exits 0 after answering).
#pragma once

#include "agents/daemon/config.hpp"

namespace pw::agent {

// Exit code: 0 after a clean stop or decommission, 1 when it cannot start.
int run_daemon(const AgentConfig& config);

}  // namespace pw::agent
