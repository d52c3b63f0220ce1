// The service supervisor of patchwave-agent: runs one release's service process (argv,
// never a shell) in the release directory, in its own session and process group, with
// exactly the environment it is given and its stdout/stderr in size-capped log files.
// It reports how the service ended and never restarts it on its own. Boost.Process stays
// inside supervisor.cpp and command.cpp; this header exposes plain C++ types only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::agent {

struct ServiceSpec {
  std::string name;                        // label for status and logs (the release sha256)
  std::string working_dir;                 // the release directory
  std::vector<std::string> argv;           // argv[0] relative to working_dir, or absolute
  std::map<std::string, std::string> env;  // exactly the environment (nothing inherited)
  std::string log_dir;  // stdout.log and stderr.log go here (missing directories made 0700)
  // Per stream: a write that would take NAME.log past the cap first renames it to
  // NAME.log.1 (one old generation kept) and starts a new NAME.log.
  std::uint64_t log_cap_bytes = 8u << 20;
};

struct ServiceStatus {
  enum class State {
    never_started,
    running,
    stopped,  // by stop()
    exited,   // on its own
  };
  State state = State::never_started;
  std::string name;
  std::int64_t pid = 0;            // the last process (kept after it ended)
  std::int64_t since_unix_ms = 0;  // start time while running; end time after
  std::uint64_t starts = 0;        // restarts = starts - 1; never restarted automatically
  std::optional<int> exit_code;    // how it last ended: a code or a signal, never both
  std::optional<int> signal;
};
const char* state_name(ServiceStatus::State state);

class Supervisor {
 public:
  Supervisor();
  // Stops a running service (2 s grace) and joins the supervisor's thread.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Errors before anything is spawned: conflict (a service is running), invalid_argument
  // (empty argv, bad environment, empty log_dir, zero cap), not_found / permission naming
  // the path (working_dir or argv[0] missing; argv[0] not an executable regular file),
  // io (log directory or files). A process that ends within `startup_window` is a failed
  // start: Errc::io "service exited at once with code N" (or "...: killed by signal N")
  // followed by the last ~1 KiB of its stderr. Otherwise the running status.
  Result<ServiceStatus> start(const ServiceSpec& spec, std::chrono::milliseconds startup_window);

  // SIGTERM to the whole process group; up to `grace` for the group to end; then SIGKILL
  // to the group; the service is reaped. Returns the final status (state stopped).
  // Returns the status unchanged when nothing is running.
  Result<ServiceStatus> stop(std::chrono::milliseconds grace);

  // Thread-safe. A service that ends on its own shows state exited with its code or
  // signal as soon as it is reaped (what it left in its process group gets SIGKILL).
  ServiceStatus status() const;

  // The last max_bytes of "stdout" or "stderr" of the latest service (NAME.log.1 then
  // NAME.log); empty for another stream name or before any start.
  std::string log_tail(const std::string& stream, std::size_t max_bytes) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pw::agent
