// Streaming SHA-256 / SHA-512 and hex helpers (OpenSSL EVP underneath).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::crypto {

using Bytes = std::vector<std::uint8_t>;

enum class HashAlgorithm { sha256, sha512 };

// "sha256" / "sha512"
const char* hash_name(HashAlgorithm algorithm);

// Incremental digest: update() any number of times, then finish() once.
class Hasher {
 public:
  explicit Hasher(HashAlgorithm algorithm);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  Bytes finish();
  HashAlgorithm algorithm() const { return algorithm_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HashAlgorithm algorithm_;
};

Bytes digest(HashAlgorithm algorithm, std::string_view data);
std::string sha256_hex(std::string_view data);

// `bytes` bytes from the operating system's CSPRNG (OpenSSL RAND_bytes), as lowercase hex:
// enrollment tokens, nonces. Errc::crypto if the generator fails.
Result<std::string> random_hex(std::size_t bytes);

std::string to_hex(const Bytes& bytes);  // lowercase
Result<Bytes> from_hex(std::string_view hex);

// Hashes a file in one streaming pass and reports its length: sha256 always, sha512
// when asked (it costs about twice as much as sha256 on x86-64). Used by release
// authoring.
struct FileDigest {
  std::uint64_t length = 0;
  std::string sha256_hex;
  std::string sha512_hex;  // empty unless with_sha512
};
Result<FileDigest> hash_file(const std::string& path, bool with_sha512 = true);

}  // namespace pw::crypto
