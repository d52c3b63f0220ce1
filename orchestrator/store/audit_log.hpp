// The audit log: append-only events in the store, each carrying the sha256 of the one
// before it and of its own canonical JSON
//   {"action", "actor", "inputs", "outcome", "prev", "seq", "time"}  (OLPC canonical)
// so that changing, removing or reordering any event breaks the chain from there on.
// The chain alone does not stop someone who rewrites the whole database consistently;
// signed checkpoints anchored outside it (orchestrator/audit) do.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/json/json.hpp"
#include "orchestrator/store/database.hpp"

namespace pw::store {

inline constexpr const char* kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct Event {
  std::string actor;                           // "operator:alice", "controller", "agent:bw-r1-0"
  std::string action;                          // "sync", "rollout.start", "enroll", ...
  json::Value inputs = json::Value::object();  // no floats (canonical JSON has none)
  std::string outcome;                         // "ok", "refused: <reason>", ...
};

struct StoredEvent {
  std::int64_t seq = 0;
  std::string time, actor, action;
  json::Value inputs;
  std::string outcome, prev_hash, hash;
  json::Value to_json() const;
};

// The hash an event must carry: sha256 of its canonical JSON (with prev).
Result<std::string> event_hash(const StoredEvent& event);

struct ChainReport {
  bool intact = true;
  std::int64_t events = 0;
  std::string head_hash = kGenesisHash;
  std::optional<std::int64_t> first_broken;  // seq of the first event that does not check
  std::string reason;
};

class AuditLog {
 public:
  using Clock = std::function<std::string()>;  // RFC 3339 UTC
  explicit AuditLog(Database& db, Clock clock = {});

  // Appends in one transaction (durable when it returns: synchronous=FULL).
  Result<StoredEvent> append(const Event& event);
  // Appends inside the caller's transaction (opened with Database::transaction, which
  // serializes writers), so the event is kept exactly when the caller's changes are.
  Result<StoredEvent> append_in_transaction(const Event& event);
  // Events with seq >= from, at most `limit` (0: all), in order.
  Result<std::vector<StoredEvent>> read(std::int64_t from = 1, std::size_t limit = 0) const;
  Result<std::optional<StoredEvent>> at(std::int64_t seq) const;
  Result<std::optional<StoredEvent>> head() const;
  // Walks the whole chain: contiguous sequence numbers from 1, each prev = the previous
  // hash, each hash = the hash of its content. Names the first event that breaks it.
  Result<ChainReport> verify() const;

 private:
  Database* db_;
  Clock clock_;
};

}  // namespace pw::store
