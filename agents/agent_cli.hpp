// The `patchwave-agent` command. The daemon (`run`) comes with the agent issue; today
// it has the agent's own staging path for operators: `unpack`.
//
// Exit codes: 0 success, 1 the operation failed or verification refused, 2 bad usage.
#pragma once

namespace pw::agent {

int run_cli(int argc, char** argv);

}  // namespace pw::agent
