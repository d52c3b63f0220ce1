// HAProxy through its runtime API (the admin stats socket): servers are added to a
// region's backend, weighted, drained and removed without reloads. Weight and admin
// state are separate controls: `set server ... state ready` does not restore a weight
// that was set to 0 (DEPENDENCIES.md), so both are always set explicitly.
//
// Managed mode: write_config() makes a configuration with one frontend and one backend
// per region on loopback (retries and redispatch on, so a server that dies costs at most
// the request in flight), and Haproxy::start() runs and owns the process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::traffic {

struct RegionFrontend {
  std::string region;  // backend "region_<name>"
  std::string bind;    // 127.0.0.1:PORT clients use
};

// The managed configuration: a stats socket at level admin, one frontend and one
// backend per region; servers are added at run time.
std::string managed_config(const std::string& socket_path,
                           const std::vector<RegionFrontend>& regions);

struct ServerStat {
  std::string backend, server, status;  // status: UP, DOWN, MAINT, DRAIN, no check...
  std::uint64_t weight = 0, sessions_total = 0, responses_5xx = 0, connection_errors = 0,
                response_errors = 0;
};

class Runtime {
 public:
  explicit Runtime(std::string socket_path) : socket_(std::move(socket_path)) {}

  // One command; HAProxy's answer. Errc::io when the socket cannot be reached.
  Result<std::string> command(const std::string& line);

  // `add server BACKEND/NAME ADDRESS weight W` (dynamic servers: no check), then enabled.
  Status add_server(const std::string& backend, const std::string& name, const std::string& address,
                    int weight);
  Status set_weight(const std::string& backend, const std::string& name, int weight);
  // "ready", "drain" or "maint".
  Status set_state(const std::string& backend, const std::string& name, const std::string& state);
  // Puts it in maintenance and deletes it (HAProxy refuses while it has connections).
  Status remove_server(const std::string& backend, const std::string& name);
  Result<std::vector<ServerStat>> stats(const std::string& backend);

 private:
  std::string socket_;
};

// A managed HAProxy process (`haproxy -db -f CONFIG`, output to CONFIG.log), stopped
// when destroyed.
class Haproxy {
 public:
  static Result<std::unique_ptr<Haproxy>> start(const std::string& config_path,
                                                const std::string& socket_path);
  ~Haproxy();
  Haproxy(const Haproxy&) = delete;
  Haproxy& operator=(const Haproxy&) = delete;
  long pid() const { return pid_; }

 private:
  Haproxy() = default;
  long pid_ = 0;
};

}  // namespace pw::traffic
