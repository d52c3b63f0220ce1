// The agent daemon's state and its HTTP API (served over mutual TLS by daemon.cpp):
//
//   GET  /v1/status               identity, staged releases, jobs, service, last health
//   PUT  /v1/releases/{sha256}    stage a release (asynchronous; 202, then see status)
//   GET  /v1/releases/{sha256}    one release: staged, or its job's progress and error
//   POST /v1/service/start        {"release": SHA256, "port": N?}; repeating the start of
//                                 the running release on the same port answers 200
//                                 with its status ("already_running": true)
//   POST /v1/service/stop
//   GET  /v1/health               run the running release's health check now
//   POST /v1/decommission         stop, wipe releases, logs and keys, exit
//
// Errors are {"error": {"code": ..., "message": ...}} with a 4xx/5xx status.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "agents/daemon/config.hpp"
#include "agents/daemon/health.hpp"
#include "agents/daemon/identity.hpp"
#include "agents/daemon/releases.hpp"
#include "agents/service/supervisor.hpp"
#include "common/net/http.hpp"

namespace pw::agent {

class Agent {
 public:
  // Loads or creates the identity (enrolling if needed) and the staged releases.
  static Result<std::unique_ptr<Agent>> create(const AgentConfig& config);

  net::Response handle(const net::Request& request);
  json::Value status() const;
  const Identity& identity() const { return identity_; }
  bool decommissioned() const { return decommissioned_.load(); }
  // Stops the service (on SIGTERM): the agent exits, the server is left as it was.
  void shutdown();

 private:
  Agent(const AgentConfig& config, Identity identity);
  Reply start_service(const std::string& body);
  Reply stop_service();
  Reply health();
  Reply decommission();
  Reply release_status(const std::string& sha256) const;

  AgentConfig config_;
  Identity identity_;
  Releases releases_;
  Supervisor supervisor_;
  std::mutex control_mutex_;  // one start, stop or decommission at a time
  mutable std::mutex mutex_;  // running_, port_, env_, last_health_
  std::optional<StagedRelease> running_;
  std::uint16_t port_ = 0;
  std::map<std::string, std::string> env_;
  std::optional<HealthResult> last_health_;
  std::atomic<bool> decommissioned_{false};
  std::string started_at_;
};

}  // namespace pw::agent
