// Emergency countersignatures: security officers vouch, one person at a time, for an
// emergency release (a target whose release description says urgency "emergency") so
// that it may take the emergency path (see manifests/approvals.md).
//
//   {"signed": {"_type": "countersignature", "target": "demo-service/1.0.1/demo.tar.gz",
//               "sha256": "<64 hex>", "urgency": "emergency",
//               "issued": "2026-11-28T10:00:00Z"},
//    "signatures": [{"keyid": "<64 hex>", "sig": "<hex>"}, ...]}
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.hpp"
#include "common/errors/result.hpp"
#include "common/trust/metadata.hpp"
#include "orchestrator/approval/document.hpp"
#include "orchestrator/fleet/policy.hpp"

namespace pw::approval {

struct Countersignature {
  std::string target, sha256, urgency;  // urgency is always "emergency"
  trust::TimePoint issued{};            // when the first officer signed
  std::vector<std::string> keyids;      // of its signatures, in document order
};

// Structure only, no signature check: the envelope (document.hpp), at least one
// signature, target / sha256 / urgency "emergency" / issued all present and valid.
// Errc::parse / Errc::limit, as "SOURCE: rule".
Result<Countersignature> parse_countersignature(std::string_view bytes, std::string_view source);

// Adds `key`'s signature to `existing` (or, without one, starts a document issued `now`)
// and returns the new text. Refuses (Errc::conflict) a document for another target or
// sha256 and a key that already signed it; a malformed `existing` is Errc::parse.
Result<std::string> countersign(std::optional<std::string_view> existing, const std::string& target,
                                const std::string& sha256, const crypto::PrivateKey& key,
                                trust::TimePoint now);

struct Countersigned {
  std::vector<std::string> keyids;  // officer keys with a valid signature, counted once each
  std::size_t threshold = 0;
};

// Ok when at least officers.threshold distinct officer keys (by key material) validly
// signed a document for exactly this target and sha256. Signatures by other keys or that
// do not verify are ignored, never counted. Errors, with `source` as context:
// Errc::parse / limit (malformed), Errc::mismatch (another target or sha256),
// Errc::invalid_argument (no officers), Errc::signature ("1 of 2 required security
// officer signatures ..." naming the keys that signed validly and what was ignored).
Result<Countersigned> verify_countersignatures(std::string_view bytes, const std::string& target,
                                               const std::string& sha256,
                                               const fleet::Approvers& officers,
                                               std::string_view source);

}  // namespace pw::approval
