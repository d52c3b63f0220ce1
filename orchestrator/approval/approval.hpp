// Approval documents: one approver's signed decision to let one release into one region
// for one rollout (see manifests/approvals.md).
//
//   {"signed": {"_type": "approval", "rollout": "r1a2b3c4d",
//               "target": "demo-service/1.0.1/demo.tar.gz", "sha256": "<64 hex>",
//               "region": "bw", "decision": "approve", "comment": "",
//               "issued": "2026-11-28T10:00:00Z", "expires": "2026-11-29T10:00:00Z"},
//    "signatures": [{"keyid": "<64 hex>", "sig": "<hex>"}]}
//
// An approval binds every field a replay could change: the rollout, the target and its
// sha256, and the region. Whether it counts is decided against the fleet policy in force
// (the region's approver keys) and the controller's clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/crypto/keys.hpp"
#include "common/errors/result.hpp"
#include "common/trust/metadata.hpp"
#include "orchestrator/approval/document.hpp"
#include "orchestrator/fleet/policy.hpp"

namespace pw::approval {

inline constexpr std::size_t kMaxCommentBytes = 1024;
inline constexpr std::chrono::seconds kMaxApprovalLifetime = std::chrono::days{30};
// How far in the future `issued` may be, for clocks that disagree a little.
inline constexpr std::chrono::seconds kMaxClockSkew = std::chrono::minutes{5};

struct Approval {
  std::string rollout, target, sha256, region, decision, comment;
  trust::TimePoint issued{}, expires{};
  std::string keyid;  // of its one signature (filled by parse)
};

// Validates the fields (Errc::invalid_argument naming the rule) and signs them with
// `key`: the document's text (JSON, newline-terminated). `fields.keyid` is ignored.
Result<std::string> sign_approval(const Approval& fields, const crypto::PrivateKey& key);

// Structure only, no signature check: the envelope (document.hpp), exactly one
// signature, every field present and valid:
//   rollout   [A-Za-z0-9._-]{1,64}       region    [a-z0-9-]{1,32}
//   target    check_target_name          sha256    64 lowercase hex
//   decision  "approve" or "reject"      comment   <= 1024 bytes UTF-8, no control chars
//   issued < expires <= issued + 30 days
// Errc::parse / Errc::limit, as "SOURCE: rule".
Result<Approval> parse_approval(std::string_view bytes, std::string_view source);

// What an approval must be for: the rollout, the release and the region at the gate.
struct Binding {
  std::string rollout, target, sha256, region;
};

// Does it count? The approval (of either decision) only if it parses; binding.region is
// in `policy` (else Errc::not_found); its key is one of that region's approver keys
// (else Errc::permission, naming the regions the key does approve, if any); the signature
// verifies with that key (Errc::signature); rollout, target, sha256 and region all match
// the binding (Errc::mismatch: "it approves rollout R1, not R2: a replayed approval?");
// now < expires (Errc::expired: "it expired at T"); and issued <= now + 5 minutes
// (Errc::expired: not valid yet). Errors have `source` as context.
Result<Approval> verify_approval(std::string_view bytes, const Binding& binding,
                                 const fleet::Policy& policy, trust::TimePoint now,
                                 std::string_view source);

}  // namespace pw::approval
