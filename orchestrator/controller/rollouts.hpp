// The controller's rollouts: the engine (orchestrator/rollout) on real ports, its loop,
// and the operator API:
//
//   POST /v1/rollouts/plan          any operator: {app, version, regions?} -> the plan
//   POST /v1/rollouts               release-engineer: start {app, version, regions?,
//                                   routine?} (routine: an emergency release that is not
//                                   countersigned runs the routine path instead)
//   GET  /v1/rollouts               any operator: every rollout, newest last
//   GET  /v1/rollouts/{id}          any operator: one rollout, every region in detail
//   POST /v1/rollouts/{id}/{verb}   release-engineer: pause|resume|abort|rollback
//                                   {region?}; queued for the engine (202)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/net/http.hpp"
#include "orchestrator/controller/leases.hpp"
#include "orchestrator/controller/rollout_ports.hpp"
#include "orchestrator/rollout/engine.hpp"

namespace pw::controller {

class Rollouts {
 public:
  Rollouts(const Config& config, store::Store& store, std::mutex& store_mutex,
           const ca::ControllerCa& ca, net::TlsFiles tls, std::string controller_url);

  // One turn of the engine loop: the verified policy, HAProxy (started or restarted and
  // its weights re-applied), then every active rollout. With none active, the store is
  // looked at again only after idle_recheck (or at once after a write of this
  // controller's): an idle controller watches HAProxy and little else.
  void tick();
  // A sync stored new manifests: the next tick reads the policy again.
  void policy_synced();

  net::Response handle(const net::Request& request, const std::string& path,
                       const std::string& role, const std::string& who);
  // GET /v1/approvals[?region=R&rollout=ID]  any operator: the open approval requests
  // POST /v1/approvals                       any operator: a signed approval document
  //   (its signature is the authority, not the submitter's role) (approvals.cpp)
  net::Response approvals_api(const net::Request& request, const std::string& who);
  // GET /v1/replicas  any operator: the controllers sharing the store, and who drives what
  net::Response replicas_api();
  void set_dispatcher(notify::Dispatcher* dispatcher) { records_.set_dispatcher(dispatcher); }

 private:
  struct Policy {
    fleet::Policy typed;
    json::Value json;
  };
  // The verified fleet policy, parsed once per sync (shared: the loop holds it for a tick
  // while the API may swap in a newer one). The API asks `fresh` (the store's last sync);
  // the loop does not, and checks the store for a newer sync only every idle_recheck.
  Result<std::shared_ptr<const Policy>> policy(bool fresh = true);
  // `countersignature`: the emergency countersignature document the sync found, or "".
  Result<rollout::ReleaseInfo> find_release(const std::string& app, const std::string& version,
                                            std::string* countersignature = nullptr);
  // An emergency release is honoured only with a threshold of the security officers'
  // countersignatures: {"countersigned_by", "threshold"}; Errc::signature naming what is
  // missing otherwise (approvals.cpp).
  Result<json::Value> check_countersignatures(const rollout::ReleaseInfo& release,
                                              const std::string& countersignature,
                                              const fleet::Policy& policy);
  // Decides and audits: honoured (release.emergency set), or downgraded to routine when
  // the operator asked for that, or refused (the error).
  Status honour_emergency(rollout::ReleaseInfo& release, const std::string& countersignature,
                          const fleet::Policy& policy, bool as_routine, const std::string& who);
  void reapply_traffic(const Policy& policy, std::vector<rollout::Rollout>& active);
  net::Response plan(const json::Value& body);
  net::Response start(const json::Value& body, const std::string& who);
  net::Response command(const std::string& id, const std::string& verb, const json::Value& body,
                        const std::string& who);
  json::Value approval_request(const rollout::Rollout& r, const rollout::RegionRun& run,
                               const fleet::Policy& policy);
  net::Response submit_approval(const std::string& document, const std::string& who);

  const Config* config_;
  store::Store* store_;
  std::mutex* store_mutex_;
  Servers servers_;
  SystemClock clock_;
  StoreRecords records_;
  ServerFleet fleet_;
  AgentPort agents_;
  DirectProbe probe_;
  HaproxyTraffic traffic_;
  StoreLeases leases_;
  rollout::Engine engine_;
  std::mutex engine_mutex_;  // the loop and `start` (which checks for overlapping rollouts)
  std::mutex policy_mutex_;  // policy_ and policy_sync_
  std::string policy_sync_;  // the sync that wrote it: revision and time
  std::shared_ptr<const Policy> policy_;
  std::shared_ptr<const Policy> policy_in_fleet_;  // the one fleet_ was last given
  using Steady = std::chrono::steady_clock;
  std::chrono::milliseconds idle_recheck_;
  Steady::time_point policy_checked_;
  std::atomic<bool> policy_synced_{false};
  // The loop's next tick is due at next_due_, or as soon as records_ shows writes or
  // queued commands other than those seen after the last tick.
  Steady::time_point next_due_;
  std::uint64_t seen_writes_ = 0;
  std::uint64_t seen_commands_ = 0;
  bool traffic_reconciled_ = false;
  std::string last_error_;
};

}  // namespace pw::controller
