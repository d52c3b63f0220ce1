// Manifests sync: read the manifests repository (libgit2) at its ref, run the TUF
// workflow from the trusted state kept in the store (so versions never go back across
// restarts), and on success record the commit, the verified targets and the metadata
// bundle agents will be handed, and copy each verified release artifact into the
// content-addressed artifact store (<state>/artifacts/<sha256>). On failure nothing
// changes: the last good state stays in force. Either way an audit event says what
// happened and why.
#pragma once

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

// The fleet policy is the signed target `fleet_target` (YAML, orchestrator/fleet); a
// policy that does not parse makes the whole sync fail, like a bad signature.
inline constexpr const char* kDefaultFleetTarget = "fleet/policy.yaml";

Result<SyncResult> sync(store::Store& store, const std::string& repository,
                        const std::string& pinned_root_file, const std::string& artifacts_dir,
                        const std::string& actor,
                        const std::string& fleet_target = kDefaultFleetTarget);

// The last good sync: {"revision", "synced_at", "targets": {...}, "metadata": {...},
// "fleet": POLICY-or-null}, or null before the first one.
Result<json::Value> last_sync(store::Store& store);

}  // namespace pw::controller
