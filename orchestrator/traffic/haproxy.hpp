// HAProxy through its runtime API (the admin stats socket): servers are added to a
// region's backend, weighted, drained and removed without reloads. Weight and admin
// state are separate controls: `set server ... state ready` does not restore a weight
// that was set to 0 (DEPENDENCIES.md), so both are always set explicitly.
//
// Every Runtime action is idempotent where the rollout engine needs it to be (it repeats
// actions after a crash): ensure_server converges on the requested server, and
// remove_server of a server that is already gone succeeds.
//
// Managed mode: managed_config() makes a configuration with one frontend and one backend
// per region on loopback (retries and redispatch on, so a server that dies costs at most
// the request in flight), and Haproxy::start() runs and owns the process.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/errors/result.hpp"
#include "orchestrator/traffic/stat.hpp"

namespace pw::traffic {

struct RegionFrontend {
  std::string region;        // frontend "fe_<region>"
  std::string bind;          // 127.0.0.1:PORT clients use
  std::string backend = {};  // the fleet policy's backend; "" means "region_<region>"
};

// The backend name managed_config() gives a region.
std::string backend_name(const RegionFrontend& region);

// The managed configuration: a stats socket at level admin, one frontend and one
// backend per region; servers are added at run time.
std::string managed_config(const std::string& socket_path,
                           const std::vector<RegionFrontend>& regions);

class Runtime {
 public:
  explicit Runtime(std::string socket_path) : socket_(std::move(socket_path)) {}

  // One command; HAProxy's answer. Errc::io when the socket cannot be reached.
  Result<std::string> command(const std::string& line);

  // `add server BACKEND/NAME ADDRESS weight W` (dynamic servers: no check), then enabled.
  Status add_server(const std::string& backend, const std::string& name, const std::string& address,
                    int weight);
  // Converges on NAME at ADDRESS with WEIGHT, ready: added if absent (as add_server),
  // removed and added again if it has another address (compared as text with HAProxy's
  // `addr`, so give IP:PORT), else weight set and state ready. Errc::not_found when the
  // backend does not exist.
  Status ensure_server(const std::string& backend, const std::string& name,
                       const std::string& address, int weight);
  // ensure_server for each, reading HAProxy's table once (one `show stat` for a whole
  // traffic step, not one per server).
  struct Target {
    std::string name;
    std::string address;
    int weight = 0;
  };
  Status ensure_servers(const std::string& backend, const std::vector<Target>& servers);
  Status set_weight(const std::string& backend, const std::string& name, int weight);
  // "ready", "drain" or "maint".
  Status set_state(const std::string& backend, const std::string& name, const std::string& state);
  // Puts it in maintenance and deletes it (HAProxy refuses while it has connections).
  // Ok when the server is not there; Errc::not_found when the backend does not exist.
  Status remove_server(const std::string& backend, const std::string& name);
  // remove_server for each, reading HAProxy's table once.
  Status remove_servers(const std::string& backend, const std::vector<std::string>& names);
  // The servers of BACKEND (empty when it has none or does not exist: see has_backend).
  Result<std::vector<ServerStat>> stats(const std::string& backend);
  Result<bool> has_backend(const std::string& backend);

 private:
  Result<StatTable> show_stat();
  std::string socket_;
};

// A managed HAProxy process (`haproxy -db -f CONFIG`, output to CONFIG.log), stopped
// when destroyed.
class Haproxy {
 public:
  static Result<std::unique_ptr<Haproxy>> start(const std::string& config_path,
                                                const std::string& socket_path);
  // The HAProxy a previous controller started with `config_path` and left running (it
  // crashed): taken over, so traffic keeps flowing across a controller restart. nullptr
  // when `pid` is not alive or is not haproxy running that configuration.
  static std::unique_ptr<Haproxy> adopt(long pid, const std::string& config_path);
  ~Haproxy();
  Haproxy(const Haproxy&) = delete;
  Haproxy& operator=(const Haproxy&) = delete;
  long pid() const { return pid_; }
  // False once the process has exited (it is reaped then; start a new one).
  bool running();

 private:
  Haproxy() = default;
  long pid_ = 0;
  bool adopted_ = false;  // not our child: no waitpid, liveness by kill(pid, 0)
};

}  // namespace pw::traffic
