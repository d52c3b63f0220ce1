#include "common/trust/hash_check.hpp"

namespace pw::trust {

HashCheck::HashCheck(std::optional<std::uint64_t> length,
                     const std::map<std::string, std::string>& hashes)
    : length_(length) {
  for (const auto& [name, hex] : hashes) {
    if (name == "sha256") hashers_.emplace_back(crypto::HashAlgorithm::sha256, hex);
    if (name == "sha512") hashers_.emplace_back(crypto::HashAlgorithm::sha512, hex);
  }
}

void HashCheck::update(std::string_view chunk) {
  seen_ += chunk.size();
  for (auto& [hasher, unused] : hashers_) hasher.update(chunk);
}

Status HashCheck::finish(const std::string& what) {
  if (hashers_.empty()) {
    return make_error(Errc::unsupported,
                      "none of its hash algorithms is supported (sha256, sha512)")
        .with_context(what);
  }
  if (length_ && seen_ != *length_) {
    return make_error(Errc::mismatch, "length is " + std::to_string(seen_) +
                                          " bytes, signed length is " + std::to_string(*length_))
        .with_context(what);
  }
  for (auto& [hasher, expected] : hashers_) {
    if (crypto::to_hex(hasher.finish()) != expected) {
      return make_error(Errc::mismatch, std::string(crypto::hash_name(hasher.algorithm())) +
                                            " does not match the signed hash")
          .with_context(what);
    }
  }
  return Ok{};
}

Status check_length_and_hashes(std::string_view bytes, std::optional<std::uint64_t> length,
                               const std::map<std::string, std::string>& hashes,
                               const std::string& what) {
  HashCheck check(length, hashes);
  check.update(bytes);
  if (hashes.empty()) {
    if (length && bytes.size() != *length) return check.finish(what);  // reports the length
    return Ok{};
  }
  return check.finish(what);
}

}  // namespace pw::trust
