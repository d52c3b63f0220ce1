// `patchwave serve`: the long-running controller. It owns the store (audit log
// included), the CA, its TLS identity and signing key, the artifact store, and serves:
//
//   POST /v1/enroll               agents, no client certificate yet: {name, token, csr}
//   GET  /v1/artifacts/{sha256}   agents only (a certificate without a role); ranges
//   GET  /v1/bundle               agents and operators: the verified metadata bundle
//   GET  /v1/status               any operator
//   GET  /v1/releases             any operator: the verified releases of the last sync
//   GET  /v1/fleet                any operator: the verified fleet policy
//   GET  /v1/servers[?region=R]   any operator; POST /v1/servers/provision {region, count}
//                                 and /v1/servers/decommission {name}: release-engineer
//   GET  /v1/servers/{name}/agent any operator: the agent's own status (over mutual TLS)
//   POST /v1/sync                 release-engineer: sync now
//   GET  /v1/audit/verify         any operator: the chain (and the anchors) checked
//   GET  /v1/audit/events?from=N  any operator
//   /v1/rollouts...               rollouts.hpp
//   /ui/..., /metrics, /v1/session  the dashboard, metrics, sessions: dashboard.hpp
//
// Operators are told apart by the role their certificate carries (orchestrator/ca).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "common/crypto/keys.hpp"
#include "common/net/http.hpp"
#include "orchestrator/ca/ca.hpp"
#include "orchestrator/controller/config.hpp"
#include "orchestrator/controller/dashboard.hpp"
#include "orchestrator/controller/rollouts.hpp"
#include "orchestrator/controller/sync.hpp"
#include "orchestrator/notify/notify.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::controller {

class Controller {
 public:
  // Opens the store; creates the CA, the controller's certificate and its checkpoint
  // signing key on the first start.
  static Result<std::unique_ptr<Controller>> open(const Config& config);

  // Every request; refused ones (401, 403) are audited as api.refused.
  net::Response handle(const net::Request& request);
  Result<SyncResult> sync_now(const std::string& actor);
  Status checkpoint_now();
  // One turn of the rollout engine (its own thread in run_serve).
  void tick_rollouts() { rollouts_->tick(); }
  // Starts delivering the notification outbox to the configured webhooks.
  Status start_notifications();
  void stop_notifications();

  std::string tls_certificate() const { return config_.state_dir + "/tls/controller.crt"; }
  std::string tls_key() const { return config_.state_dir + "/tls/controller.key"; }
  std::string ca_certificate() const { return ca_->certificate_file(); }

 private:
  Controller(const Config& config) : config_(config) {}
  net::Response route(const net::Request& request);
  // The dashboard (controller_dashboard.cpp): made in open(); it reads through api_get.
  Status open_dashboard();
  net::Response api_get(const std::string& target, const Operator& who);
  void audit_refusal(const net::Request& request, const net::Response& response);
  net::Response operator_api(const net::Request& request, const std::string& role);
  net::Response enroll(const net::Request& request);
  net::Response servers_api(const net::Request& request, const std::string& path,
                            const std::string& role, const std::string& who);

  Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ca::ControllerCa> ca_;
  std::unique_ptr<crypto::PrivateKey> signing_key_;
  std::mutex mutex_;  // one store user at a time
  std::unique_ptr<Rollouts> rollouts_;
  std::unique_ptr<notify::Dispatcher> notifier_;
  std::unique_ptr<Dashboard> dashboard_;
  struct Refusals {
    std::chrono::steady_clock::time_point last;
    std::uint64_t count = 0;
  };
  std::map<std::string, Refusals> anonymous_refusals_;  // by address; under mutex_
};

// Runs until SIGTERM/SIGINT: sync and checkpoint timers, the HTTPS server.
int run_serve(const Config& config, const std::string& log_format);

}  // namespace pw::controller
