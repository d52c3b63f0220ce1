// The rollout engine's side effects, behind small interfaces so that the engine's tables
// are tested with in-memory fakes (tests/unit/orchestrator/rollout) and driven by the
// real provider, agents, HAProxy and SQLite store in the controller
// (orchestrator/controller/rollouts.cpp). Every operation is idempotent: after a crash
// the engine repeats the action it had recorded as about to run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"
#include "orchestrator/rollout/model.hpp"
#include "orchestrator/traffic/haproxy.hpp"

namespace pw::rollout {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now() = 0;
};

// Servers of a region: the provider, the enrollment tokens and the store's server table.
class Fleet {
 public:
  virtual ~Fleet() = default;
  // The servers in service in `region` now: the ones a rollout replaces.
  virtual Result<std::vector<ServerRef>> serving(const std::string& region) = 0;
  // Creates servers 0..count-1 of the rollout under their deterministic names (the ones
  // that exist already are returned as they are). `service` is left empty.
  virtual Result<std::vector<ServerRef>> provision(const std::string& region,
                                                   const std::string& rollout_id, int count) = 0;
  virtual Result<bool> enrolled(const std::string& name) = 0;
  // Gone for good (Ok if it is gone already), including a server the provider made but
  // the store never heard of: the name is enough.
  virtual Status decommission(const std::string& region, const ServerRef& server) = 0;
  // `fresh` are now the region's servers in service; `previous` are retired.
  virtual Status promote(const std::string& region, const std::vector<ServerRef>& fresh,
                         const std::vector<ServerRef>& previous) = 0;
};

enum class StageState { staging, staged, failed };

struct StageReport {
  StageState state = StageState::staging;
  std::string detail;
};

struct HealthReport {
  bool healthy = false;
  std::string detail;
};

// The agents on the servers (mutual TLS). An unreachable agent is an error result.
class Agents {
 public:
  virtual ~Agents() = default;
  // Asks the agent to stage the release (a no-op when it has it or is on it) and says
  // where it is.
  virtual Result<StageReport> stage(const ServerRef& server, const std::string& sha256) = 0;
  // Starts the staged release's service on `port`; a no-op when it runs already.
  virtual Status start(const ServerRef& server, const std::string& sha256, std::uint16_t port) = 0;
  // The agent runs the release's health check on the server.
  virtual Result<HealthReport> health(const ServerRef& server) = 0;
  // Before the provider deletes a server: the agent stops the service and wipes the
  // releases, logs and its keys on the server itself (then exits), so that nothing of it
  // outlives the server on a disk the provider only detaches or snapshots.
  virtual Status decommission(const ServerRef& server) = 0;
};

// The controller's own check of a service (HTTP or TCP to ServerRef::service), from the
// release's health spec.
class HealthProbe {
 public:
  virtual ~HealthProbe() = default;
  virtual HealthReport probe(const std::string& service, const json::Value& health) = 0;
};

struct Weight {
  std::string server, address;
  int weight = 0;
};

// A region's HAProxy backend. Weights are absolute; `apply` adds missing servers.
class Traffic {
 public:
  virtual ~Traffic() = default;
  virtual Status apply(const std::string& backend, const std::vector<Weight>& weights) = 0;
  // Drained (no new requests) and deleted; Ok when they are not there.
  virtual Status remove(const std::string& backend, const std::vector<std::string>& servers) = 0;
  virtual Result<std::vector<traffic::ServerStat>> stats(const std::string& backend) = 0;
};

// An operator's request, queued for the engine (which alone writes rollout records).
struct Command {
  std::int64_t id = 0;
  std::string rollout_id;
  std::string region;  // empty: every region of the rollout
  std::string verb;    // pause | resume | abort | rollback
  std::string actor;
};

// One audit event, as the engine asks for it.
struct AuditEntry {
  std::string actor, action;
  json::Value inputs;
  std::string outcome;
};

class Records {
 public:
  virtual ~Records() = default;
  // Durable when it returns (the engine calls it before each action).
  virtual Status save(const Rollout& rollout) = 0;
  // save() and audit() in one transaction: a state anyone could read is never missing
  // from the audit log, and no event tells of a state that was not kept, whatever ends
  // the process between the two.
  virtual Status save_audited(const Rollout& rollout, const AuditEntry& event) = 0;
  // What the next tick starts from, without waiting for the disk: for changes a
  // restarted engine can do without (the time of the last health check and the passes
  // after the gate); the next save() makes them durable. By default, save().
  virtual Status keep(const Rollout& rollout) { return save(rollout); }
  virtual Result<std::vector<Command>> commands(const std::string& rollout_id) = 0;
  virtual Status command_done(const Command& command, const std::string& outcome) = 0;
  virtual Status audit(const std::string& actor, const std::string& action,
                       const json::Value& inputs, const std::string& outcome) = 0;
  // The signed approval documents submitted for a region of a rollout, as submitted (the
  // controller checked them on the way in; the engine checks them again at the gate,
  // against the policy in force then).
  virtual Result<std::vector<std::string>> approvals(const std::string& rollout_id,
                                                     const std::string& region) = 0;
  // A message for the people watching (webhooks): queued, never waited for. `event` is
  // approval.requested, approval.rejected, approval.expired, region.succeeded,
  // region.rolled_back or rollout.finished; `text` is one readable line.
  virtual Status notify(const std::string& event, const json::Value& fields,
                        const std::string& text) = 0;
};

// Which regions this process drives when several controllers share one store
// (controller/leases.hpp). Without it (Ports::leases null) the engine drives every region.
class Leases {
 public:
  virtual ~Leases() = default;
  // Claims `region` of `rollout_id`, or renews the claim; false while another live
  // controller holds it. Region "" stands for the rollout's own record (starting it,
  // finishing it).
  virtual bool drives(const std::string& rollout_id, const std::string& region) = 0;
  // Ok while this process's claim is certainly still its own; an Errc::conflict error
  // ("fenced") once it may have passed to another controller. Asked before every side
  // effect: a process that was paused past its lease does nothing when it wakes up.
  virtual Status fence(const std::string& rollout_id, const std::string& region) = 0;
};

struct Ports {
  Clock* clock = nullptr;
  Fleet* fleet = nullptr;
  Agents* agents = nullptr;
  HealthProbe* probe = nullptr;
  Traffic* traffic = nullptr;
  Records* records = nullptr;
  Leases* leases = nullptr;
};

}  // namespace pw::rollout
