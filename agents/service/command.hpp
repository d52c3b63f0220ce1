// Running a command once (health checks): argv without a shell, in a working directory,
// with exactly the given environment, in its own session and process group, with a
// timeout that kills the whole group. Boost.Process stays inside command.cpp and
// supervisor.cpp; this header exposes plain C++ types only.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::agent {

struct CommandResult {
  int exit_code = -1;         // the exit code, or -1 when the command was killed by a signal
  std::optional<int> signal;  // the signal that killed it (SIGKILL after a timeout)
  bool timed_out = false;
  std::string output;  // stdout and stderr interleaved as they arrived, the first 4 KiB
  std::chrono::milliseconds elapsed{0};
};

// Runs argv in working_dir with exactly env (nothing inherited). On timeout the whole
// process group gets SIGKILL and is reaped; timed_out is set. Processes the command
// leaves behind in its group when it exits are killed too, so a check never leaves
// anything running. Errors: invalid_argument (empty argv, NUL bytes, bad variable
// names), not_found (working_dir or argv[0] missing), permission (argv[0] not an
// executable regular file), io (the spawn failed).
Result<CommandResult> run_command(const std::vector<std::string>& argv,
                                  const std::string& working_dir,
                                  const std::map<std::string, std::string>& env,
                                  std::chrono::milliseconds timeout);

// Shared by run_command and the Supervisor. Plain C++; no Boost types.
namespace spawn_detail {

// Checks what a spawn needs before forking, so that a failed exec cannot leave a zombie:
// argv is non-empty and free of NUL bytes, working_dir is a directory, argv[0] (relative
// to working_dir unless absolute) is an executable regular file. Returns the absolute
// path of the executable.
Result<std::string> resolve_executable(const std::vector<std::string>& argv,
                                       const std::string& working_dir);

// "NAME=VALUE" entries for execve. Names must be non-empty and contain neither '=' nor
// NUL; values no NUL.
Result<std::vector<std::string>> environment_entries(const std::map<std::string, std::string>& env);
// The null-terminated pointer array over `entries` (which must outlive it).
std::vector<char*> native_pointers(std::vector<std::string>& entries);

// A SIGCHLD disposition of SIG_IGN (or SA_NOCLDWAIT) makes the kernel reap children
// before anyone can read their status; this puts SIG_DFL back in that case.
void ensure_sigchld_not_ignored();

// Runs in the forked child before execve (async-signal-safe calls only): a new session
// and process group, every signal back to its default and unblocked, every descriptor
// from 3 up marked close-on-exec so nothing of the agent leaks into the child.
void prepare_child() noexcept;

// Splits a wait status into exit code or signal; both empty if it is neither.
struct ExitInfo {
  std::optional<int> exit_code;
  std::optional<int> signal;
};
ExitInfo decode_wait_status(int status);

// "cannot execute PATH: REASON", with a hint when exec says ENOENT for a file that exists
// (its #! interpreter or its dynamic loader is missing).
std::string exec_failure(const std::string& program, int error_number);

}  // namespace spawn_detail
}  // namespace pw::agent
