// Files of a repository being authored (see authoring.hpp for the layout). Internal to
// the release module.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.hpp"
#include "common/errors/result.hpp"
#include "common/json/json.hpp"
#include "common/trust/metadata.hpp"

namespace pw::authoring::detail {

inline constexpr const char* kSpecVersion = "1.0.31";

std::string join(const std::string& dir, const std::string& relative);

Result<std::optional<std::string>> read_optional(const std::string& path);
// temp file in the same directory, fsync, rename: readers see the old or the new file.
Status write_atomic(const std::string& path, std::string_view content);

// The file text of a signed document: {"signatures": [...], "signed": {...}}.
std::string envelope_text(const json::Value& signed_json,
                          const std::vector<trust::Signature>& signatures);

// Adds (or replaces) the signature of `key` under `keyid` over the canonical bytes.
Status add_signature(const trust::Envelope& envelope, const crypto::PrivateKey& key,
                     const std::string& keyid, std::vector<trust::Signature>& signatures);

// Published documents ("metadata/root.json" is the newest root).
Result<std::optional<trust::Root>> published_root(const std::string& dir);
Result<std::optional<trust::Targets>> published_targets(const std::string& dir);
Result<std::optional<trust::Snapshot>> published_snapshot(const std::string& dir);
Result<std::optional<trust::Timestamp>> published_timestamp(const std::string& dir);

// Staged documents ("staged/root.json", "staged/targets.json").
Result<std::optional<trust::Root>> staged_root(const std::string& dir);
Result<std::optional<trust::Targets>> staged_targets(const std::string& dir);
Status save_staged(const std::string& dir, trust::Role role, const json::Value& signed_json,
                   const std::vector<trust::Signature>& signatures);

// The key id under which `root` lists this key material for `role`, if it does.
std::optional<std::string> listed_keyid(const trust::Root& root, trust::Role role,
                                        const crypto::PublicKey& key);

// Builds the "signed" object of a root.
struct RoleEntry {
  std::vector<crypto::PublicKey> keys;
  std::uint64_t threshold = 1;
};
Result<json::Value> root_signed(std::uint64_t version, trust::TimePoint expires,
                                bool consistent_snapshot,
                                const std::map<trust::Role, RoleEntry>& roles);

// Commits the metadata/, targets/ and staged/ trees with `message`.
Result<std::string> commit(const std::string& dir, const std::string& message);

}  // namespace pw::authoring::detail
