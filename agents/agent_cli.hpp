// The `patchwave-agent` command: `run` (the daemon, agents/daemon) and `unpack` (the
// agent's own staging path, for operators trying a build by hand).
//
// Exit codes: 0 success, 1 the operation failed or verification refused, 2 bad usage.
#pragma once

namespace pw::agent {

int run_cli(int argc, char** argv);

}  // namespace pw::agent
