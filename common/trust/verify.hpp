// Signature thresholds: the one place that decides whether enough distinct keys signed.
#pragma once

#include <string>

#include "common/errors/result.hpp"
#include "common/trust/metadata.hpp"

namespace pw::trust {

struct SignatureCount {
  std::size_t valid = 0;        // distinct keys of the role with a valid signature
  std::size_t not_listed = 0;   // signatures by keys the role does not list
  std::size_t invalid = 0;      // by a listed key, but the signature does not verify
  std::size_t unsupported = 0;  // by a listed key of a scheme we do not implement
  std::size_t repeated = 0;     // by a key (same key material) that was already counted
};

// Counts the signatures over `envelope` made by keys `root` lists for `role`. A key is
// counted once however many key ids or signatures it appears under (compared by key
// material, not by key id); unknown keys and schemes are ignored, never trusted.
SignatureCount count_signatures(const Envelope& envelope, const Root& root, Role role);

// Errc::signature unless the threshold for `role` in `root` is met, with a message like
// "targets.json: signature threshold not met for role targets: 1 of 2 required
// (ignored: 1 by a key not listed for targets)".
Status verify_threshold(const Envelope& envelope, const Root& root, Role role,
                        const std::string& signer_description = "");

}  // namespace pw::trust
