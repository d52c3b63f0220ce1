// root rotate: stage root N+1.
#include "orchestrator/release/authoring.hpp"
#include "orchestrator/release/workspace.hpp"

namespace pw::authoring {

Result<std::uint64_t> rotate_root(const std::string& dir, const RotateOptions& options) {
  PW_TRY_ASSIGN(auto current, detail::published_root(dir));
  if (!current) {
    return make_error(Errc::not_found,
                      "no published root to rotate from; publish the staged root first");
  }
  PW_TRY_ASSIGN(auto staged, detail::staged_root(dir));
  if (staged) {
    return make_error(Errc::conflict, "root version " + std::to_string(staged->envelope.version) +
                                          " is already staged and waiting for signatures");
  }
  std::map<trust::Role, detail::RoleEntry> roles;
  for (const auto& [role, keys] : current->roles) {
    detail::RoleEntry entry;
    entry.threshold = keys.threshold;
    for (const auto& keyid : keys.keyids) entry.keys.push_back(current->keys.at(keyid));
    roles[role] = entry;
  }
  for (const auto& [role, setup] : options.roles) roles[role] = {setup.keys, setup.threshold};
  std::uint64_t version = current->envelope.version + 1;
  PW_TRY_ASSIGN(json::Value root,
                detail::root_signed(
                    version, options.now + options.root_expires_in,
                    options.consistent_snapshot.value_or(current->consistent_snapshot), roles));
  PW_TRY(detail::save_staged(dir, trust::Role::root, root, {}));

  std::string message = "root rotate: root version " + std::to_string(version) + " staged";
  if (options.roles.count(trust::Role::targets) != 0) {
    // Targets signed by the old targets keys will not verify under the new root:
    // stage the current targets again, for the new keys to sign.
    PW_TRY_ASSIGN(auto staged_targets, detail::staged_targets(dir));
    json::Value targets;
    if (staged_targets) {
      targets = staged_targets->envelope.signed_json;
    } else {
      PW_TRY_ASSIGN(auto published, detail::published_targets(dir));
      if (!published) return make_error(Errc::not_found, "no published targets metadata");
      targets = published->envelope.signed_json;
      targets["version"] = published->envelope.version + 1;
    }
    targets["expires"] = trust::format_time(options.now + options.targets_expires_in);
    PW_TRY(detail::save_staged(dir, trust::Role::targets, targets, {}));
    message += "; targets restaged for the new targets keys";
  }
  PW_TRY(detail::commit(dir, message));
  return version;
}

}  // namespace pw::authoring
