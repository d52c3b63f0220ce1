// Manifests sync: read the manifests repository (libgit2) at its ref, run the TUF
// workflow from the trusted state kept in the store (so versions never go back across
// restarts), and on success record the commit, the verified targets and the metadata
// bundle agents will be handed, and copy each verified release artifact into the
// content-addressed artifact store (<state>/artifacts/<sha256>). An emergency release's
// countersignature document (countersignatures/<target>.json, beside the metadata) is
// carried along as read; it is checked against the policy's officer keys at rollout
// start (controller/approvals.cpp). On failure nothing
// changes: the last good state stays in force. Either way an audit event says what
// happened and why.
#pragma once

#include <chrono>

#include <map>
#include <string>

#include "common/json/json.hpp"
#include "common/trust/client.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::controller {

// Trusted metadata in the store's trusted_metadata table.
class StoreTrustedStore final : public trust::TrustedStore {
 public:
  explicit StoreTrustedStore(store::Database& db) : db_(&db) {}
  Result<std::optional<std::string>> load(const std::string& role) override;
  Status save(const std::string& role, std::string_view bytes) override;
  Status remove(const std::string& role) override;

 private:
  store::Database* db_;
};

struct SyncResult {
  std::string revision;
  std::size_t targets = 0;
  std::size_t releases = 0;   // targets with a release description, artifacts stored
  bool fleet_policy = false;  // the fleet policy target was present (and valid)
};

// The fleet policy is a signed target (YAML, orchestrator/fleet). Targets never change
// once published, so a new policy is a new target: `fleet/policy.yaml`, then
// `fleet/policy-2.yaml`, `fleet/policy-3.yaml`, ...; the highest number is in force. A
// policy that does not parse makes the whole sync fail, like a bad signature.
inline constexpr const char* kDefaultFleetTarget = "fleet/policy";

// The name of the policy in force among `targets` (prefix + ".yaml" or "-N.yaml"), or "".
std::string current_fleet_target(const std::map<std::string, trust::TargetFile>& targets,
                                 const std::string& prefix = kDefaultFleetTarget);

Result<SyncResult> sync(store::Store& store, const std::string& repository,
                        const std::string& pinned_root_file, const std::string& artifacts_dir,
                        const std::string& actor,
                        const std::string& fleet_target = kDefaultFleetTarget);

// The last good sync: {"revision", "synced_at", "targets": {...}, "metadata": {...},
// "fleet": POLICY-or-null}, or null before the first one.
Result<json::Value> last_sync(store::Store& store);

// Errc::conflict when one of the last sync's timestamp, snapshot or targets metadata has
// expired by `now` (a repository frozen, or nobody re-signed it): nothing new may start
// from it, as TUF clients may not use it. Names the file and when it expired.
Status check_unexpired(const json::Value& last, std::chrono::system_clock::time_point now);
// Only the fleet policy of the last good sync, as stored (JSON text; "null" without one):
// cheap enough for the rollout engine to ask on every turn.
Result<std::string> last_fleet_text(store::Store& store);
// What tells one good sync from the next (its revision and time; "" before the first):
// a changed mark means a new fleet policy may have been stored.
Result<std::string> last_sync_mark(store::Store& store);

}  // namespace pw::controller
