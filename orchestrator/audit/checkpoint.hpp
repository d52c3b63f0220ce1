// Signed checkpoints of the audit chain, anchored outside the database (like CloudTrail's
// signed digest files): the controller signs {seq, head hash, time} with its own key and
// appends the signed document to checkpoints/log.jsonl in a separate git repository
// (libgit2), one commit per checkpoint; that repository can be pushed elsewhere.
// Verification checks each anchored checkpoint's signature and that the database still
// holds the anchored hash at that sequence number, so a database rewritten wholesale
// (a consistent new chain) or truncated is caught.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/crypto/keys.hpp"
#include "common/json/json.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::audit {

inline constexpr const char* kAnchorLog = "checkpoints/log.jsonl";

struct Checkpoint {
  std::int64_t seq = 0;
  std::string head_hash;
  std::string anchor_commit;  // the anchor repository's commit
  bool already_anchored = false;
  json::Value document;  // {"signed": {...}, "signatures": [{"keyid", "sig"}]}
};

// Checkpoints the current head (a no-op when it is already anchored). Creates the anchor
// repository when it does not exist. Errc::not_found when the log is empty.
Result<Checkpoint> checkpoint(store::Store& store, const crypto::PrivateKey& key,
                              const std::string& anchor_dir);

struct AnchorReport {
  bool intact = true;
  std::size_t checkpoints = 0;
  std::int64_t last_seq = 0;
  std::optional<std::int64_t> first_broken;  // the event seq where the database departs
  std::string reason;
};

// `anchor_spec`: a path or file:// URL of the anchor repository, optionally @REF.
Result<AnchorReport> verify_anchors(store::Store& store, const std::string& anchor_spec,
                                    const crypto::PublicKey& key);

}  // namespace pw::audit
