// Streaming check of bytes against the length and hashes that signed metadata gives.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/crypto/hash.hpp"
#include "common/errors/result.hpp"

namespace pw::trust {

class HashCheck {
 public:
  // `hashes`: algorithm -> lowercase hex. Only sha256 and sha512 are implemented;
  // others are skipped, but at least one implemented algorithm must be listed.
  HashCheck(std::optional<std::uint64_t> length, const std::map<std::string, std::string>& hashes);

  // False when no listed algorithm is implemented: finish() will fail, so callers
  // can refuse before reading anything.
  bool supported() const { return !hashers_.empty(); }
  void update(std::string_view chunk);
  std::uint64_t seen() const { return seen_; }

  // Ok when the length (if given) and every implemented hash match. `what` names the
  // file in the error: "target 'app/1.0/app.tar.gz': sha256 does not match the signed hash".
  Status finish(const std::string& what);

 private:
  std::optional<std::uint64_t> length_;
  std::vector<std::pair<crypto::Hasher, std::string>> hashers_;
  std::uint64_t seen_ = 0;
};

// The same check over bytes already in memory (snapshot.json and targets.json against
// their parent's description). No hashes listed means only the length is checked.
Status check_length_and_hashes(std::string_view bytes, std::optional<std::uint64_t> length,
                               const std::map<std::string, std::string>& hashes,
                               const std::string& what);

}  // namespace pw::trust
