// The rollout engine's ports (orchestrator/rollout/ports.hpp) on the controller's real
// parts: the SQLite store, the providers through Servers, the agents over mutual TLS,
// direct health probes, and HAProxy's runtime API. Each takes the controller's store
// mutex only around its own store access, never across a network call it makes.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/net/http.hpp"
#include "orchestrator/agent_client/agent_client.hpp"
#include "orchestrator/controller/config.hpp"
#include "orchestrator/controller/servers.hpp"
#include "orchestrator/notify/notify.hpp"
#include "orchestrator/rollout/ports.hpp"
#include "orchestrator/store/store.hpp"
#include "orchestrator/traffic/haproxy.hpp"

namespace pw::controller {

class StoreLeases;  // leases.hpp

class SystemClock final : public rollout::Clock {
 public:
  rollout::Millis now() override;
};

// rollouts / rollout_regions / rollout_commands and the audit log.
class StoreRecords final : public rollout::Records {
 public:
  StoreRecords(store::Store& store, std::mutex& mutex) : store_(&store), mutex_(&mutex) {}
  Status save(const rollout::Rollout& rollout) override;
  Status save_audited(const rollout::Rollout& rollout, const rollout::AuditEntry& event) override;
  // The cached copy only (what load() hands the next tick); written at the next save.
  Status keep(const rollout::Rollout& rollout) override;
  Result<std::vector<rollout::Command>> commands(const std::string& rollout_id) override;
  Status command_done(const rollout::Command& command, const std::string& outcome) override;
  Status audit(const std::string& actor, const std::string& action, const json::Value& inputs,
               const std::string& outcome) override;
  Result<std::vector<std::string>> approvals(const std::string& rollout_id,
                                             const std::string& region) override;
  // Queued in the store's outbox; the dispatcher (when set) is woken to send it.
  Status notify(const std::string& event, const json::Value& fields,
                const std::string& text) override;
  void set_dispatcher(notify::Dispatcher* dispatcher) { dispatcher_ = dispatcher; }
  // Replicas share the store: records are written only under this replica's claims
  // (leases.hpp), and cached ones are checked for other replicas' writes.
  void set_leases(StoreLeases* leases) { leases_ = leases; }

  // An approval the controller accepted (approvals.cpp); one per key and region.
  Status add_approval(const std::string& rollout_id, const std::string& region,
                      const std::string& keyid, const std::string& document);
  Result<bool> has_approval(const std::string& rollout_id, const std::string& region,
                            const std::string& keyid);

  // Reading, for the API and the engine loop. Active rollouts come from what this
  // controller last saved or read (it is the only writer of the rollout tables), so the
  // engine's tick does not parse every record again ten times a second.
  Result<std::vector<rollout::Rollout>> load(bool active_only);
  Result<std::optional<rollout::Rollout>> load_one(const std::string& id);
  Status queue(const rollout::Command& command);
  // How many writes of rollout records this object has committed (any thread).
  std::uint64_t writes() const { return writes_.load(); }
  // How many commands (pause, resume, abort, rollback) queue() has committed.
  std::uint64_t commands_queued() const { return commands_queued_.load(); }

 private:
  // The changed rows of `rollout`, and `event` when not null, in one transaction (the
  // caller holds the mutex).
  Status write(const rollout::Rollout& rollout, const rollout::AuditEntry* event);
  // The rows of an active rollout as last written or read, and its record: save()
  // writes only the rows that changed (most ticks change one region's health counters,
  // or nothing).
  struct Saved {
    std::string row;                             // rollouts: state and plan
    std::map<std::string, std::string> regions;  // rollout_regions: region -> data
    std::map<std::string, std::int64_t> revs;    // rollout_regions: region -> rev
    rollout::Rollout record;
  };
  Result<Saved> read(const std::string& id);
  // Whether another writer changed the rollout since `saved` (its state or any rev).
  Result<bool> stale(const std::string& id, const Saved& saved);
  std::map<std::string, Saved> saved_;
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> commands_queued_{0};
  store::Store* store_;
  std::mutex* mutex_;
  notify::Dispatcher* dispatcher_ = nullptr;
  StoreLeases* leases_ = nullptr;
};

// Servers of a region through the provider the fleet policy names.
class ServerFleet final : public rollout::Fleet {
 public:
  ServerFleet(Servers& servers, store::Store& store, std::mutex& mutex)
      : servers_(&servers), store_(&store), mutex_(&mutex) {}
  void set_policy(const json::Value& policy) { policy_ = policy; }

  Result<std::vector<rollout::ServerRef>> serving(const std::string& region) override;
  Result<std::vector<rollout::ServerRef>> provision(const std::string& region,
                                                    const std::string& rollout_id,
                                                    int count) override;
  Result<bool> enrolled(const std::string& name) override;
  Status decommission(const std::string& region, const rollout::ServerRef& server) override;
  Status promote(const std::string& region, const std::vector<rollout::ServerRef>& fresh,
                 const std::vector<rollout::ServerRef>& previous) override;

 private:
  Servers* servers_;
  store::Store* store_;
  std::mutex* mutex_;
  json::Value policy_;
};

class AgentPort final : public rollout::Agents {
 public:
  AgentPort(net::TlsFiles tls, std::string controller_url, store::Store& store, std::mutex& mutex)
      : tls_(net::ClientTls::make(tls)),
        url_(std::move(controller_url)),
        store_(&store),
        mutex_(&mutex) {}
  Result<rollout::StageReport> stage(const rollout::ServerRef& server,
                                     const std::string& sha256) override;
  Status start(const rollout::ServerRef& server, const std::string& sha256,
               std::uint16_t port) override;
  Result<rollout::HealthReport> health(const rollout::ServerRef& server) override;
  Status decommission(const rollout::ServerRef& server) override;

 private:
  std::shared_ptr<agent_client::AgentClient> client_for(const rollout::ServerRef& server);
  std::mutex clients_mutex_;
  std::map<std::string, std::shared_ptr<agent_client::AgentClient>> clients_;
  std::shared_ptr<net::ClientTls> tls_;  // one TLS set-up for every agent's client
  std::string url_;
  store::Store* store_;
  std::mutex* mutex_;
};

class DirectProbe final : public rollout::HealthProbe {
 public:
  rollout::HealthReport probe(const std::string& service, const json::Value& health) override;
};

// HAProxy's runtime API; in managed mode the controller also runs HAProxy itself and
// starts it again when it dies (restarted() tells the engine to re-apply its weights).
class HaproxyTraffic final : public rollout::Traffic {
 public:
  explicit HaproxyTraffic(const Config& config);
  ~HaproxyTraffic() override;
  // Managed mode: the configuration for the policy's regions (made once per policy).
  void set_policy(const json::Value& policy);
  // Managed mode: (re)writes that configuration and (re)starts HAProxy when it is not
  // running or the configuration changed. True when it did.
  Result<bool> ensure_running();

  Status apply(const std::string& backend, const std::vector<rollout::Weight>& weights) override;
  Status remove(const std::string& backend, const std::vector<std::string>& servers) override;
  Result<std::vector<traffic::ServerStat>> stats(const std::string& backend) override;

 private:
  const Config* config_;
  traffic::Runtime runtime_;
  std::unique_ptr<traffic::Haproxy> haproxy_;
  std::string wanted_;  // "" without a region routed through HAProxy
  std::size_t wanted_regions_ = 0;
  std::string written_;
};

}  // namespace pw::controller
