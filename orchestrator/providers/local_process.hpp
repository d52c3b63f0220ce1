// Process helpers of the local provider (and nothing else): a detached start that
// survives the controller, pid verification through /proc, and a stop that never
// signals a recycled pid. Internal to pw_providers.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::providers::local_detail {

// Starts argv (argv[0] an absolute executable) detached: double fork, its own session and
// process group, working directory `working_dir`, exactly `env`, stdin /dev/null, stdout
// and stderr appended to `log_file`. Before exec the process writes its pid to `pid_file`
// (through a temporary file and a rename), so the pid is on disk before anything runs.
// Returns the pid once exec succeeded; an exec failure is an error naming the program.
Result<long> spawn_detached(const std::vector<std::string>& argv, const std::string& working_dir,
                            const std::map<std::string, std::string>& env,
                            const std::string& log_file, const std::string& pid_file);

// The pid in `pid_file`, or 0 when the file is missing, empty or not a pid.
long read_pid(const std::string& pid_file);

// Whether `pid` is alive (not a zombie) and its /proc/<pid>/cmdline has an argument whose
// file name contains "patchwave-agent" and an argument equal to `config_path`.
bool agent_alive(long pid, const std::string& config_path);

// Stops a verified agent: SIGTERM (to its process group when it leads one), up to `grace`,
// then SIGKILL, and waits for the end. The process is held through a pidfd from the
// verification on, so a pid recycled meanwhile is never signalled. Ok when `pid` is not a
// verified agent (already gone, or an unrelated process).
Status stop_agent(long pid, const std::string& config_path, std::chrono::milliseconds grace);

// What a destroyed machine would take with it: every process whose working directory is
// `dir` or below (the services an agent started run in its state directory, in sessions
// of their own, and outlive an agent killed with SIGKILL). Each is killed with its process
// group; an error when one is still there 5 s later.
Status kill_left_behind(const std::string& dir);

}  // namespace pw::providers::local_detail
