#include "common/crypto/hash.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

using pw::Errc;
using pw::crypto::Bytes;
using pw::crypto::digest;
using pw::crypto::from_hex;
using pw::crypto::hash_file;
using pw::crypto::HashAlgorithm;
using pw::crypto::Hasher;
using pw::crypto::sha256_hex;
using pw::crypto::to_hex;

namespace {

constexpr const char* kSha256Abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kSha512Abc =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
constexpr const char* kSha256Empty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kSha512Empty =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

std::string hex_digest(HashAlgorithm algorithm, std::string_view data) {
  return to_hex(digest(algorithm, data));
}

// Deterministic, non-repeating-looking content of `size` bytes.
std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  std::uint32_t state = 0x12345678;
  for (auto& c : out) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return out;
}

}  // namespace

TEST_CASE("hash_name spells the TUF algorithm names", "[hash]") {
  CHECK(std::string(pw::crypto::hash_name(HashAlgorithm::sha256)) == "sha256");
  CHECK(std::string(pw::crypto::hash_name(HashAlgorithm::sha512)) == "sha512");
}

TEST_CASE("sha256 and sha512 match the FIPS 180 test vectors", "[hash]") {
  CHECK(hex_digest(HashAlgorithm::sha256, "abc") == kSha256Abc);
  CHECK(hex_digest(HashAlgorithm::sha512, "abc") == kSha512Abc);
  CHECK(hex_digest(HashAlgorithm::sha256, "") == kSha256Empty);
  CHECK(hex_digest(HashAlgorithm::sha512, "") == kSha512Empty);
  CHECK(hex_digest(HashAlgorithm::sha256,
                   "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex("abc") == kSha256Abc);
  CHECK(digest(HashAlgorithm::sha256, "abc").size() == 32);
  CHECK(digest(HashAlgorithm::sha512, "abc").size() == 64);
}

TEST_CASE("streaming in pieces gives the one-shot digest", "[hash]") {
  const std::string data = pattern(100000);
  for (auto algorithm : {HashAlgorithm::sha256, HashAlgorithm::sha512}) {
    Hasher hasher(algorithm);
    CHECK(hasher.algorithm() == algorithm);
    std::size_t offset = 0;
    std::size_t piece = 1;
    while (offset < data.size()) {
      std::size_t n = std::min(piece, data.size() - offset);
      hasher.update(std::string_view(data).substr(offset, n));
      offset += n;
      piece = piece * 3 + 1;  // 1, 4, 13, 40, ... crosses block boundaries unevenly
    }
    hasher.update(nullptr, 0);  // empty updates are harmless
    CHECK(hasher.finish() == digest(algorithm, data));
  }

  SECTION("a million 'a's, fed 1000 at a time") {
    Hasher hasher(HashAlgorithm::sha256);
    const std::string thousand(1000, 'a');
    for (int i = 0; i < 1000; ++i) hasher.update(thousand);
    CHECK(to_hex(hasher.finish()) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_CASE("Hasher moves and restarts after finish", "[hash]") {
  Hasher first(HashAlgorithm::sha256);
  first.update("a");
  Hasher second(std::move(first));
  second.update("bc");
  CHECK(to_hex(second.finish()) == kSha256Abc);
  // After finish() the hasher starts over as a fresh one.
  CHECK(to_hex(second.finish()) == kSha256Empty);

  Hasher third(HashAlgorithm::sha512);
  third = std::move(second);
  CHECK(third.algorithm() == HashAlgorithm::sha256);
  third.update("abc");
  CHECK(to_hex(third.finish()) == kSha256Abc);
}

TEST_CASE("hex round trip", "[hash][hex]") {
  Bytes all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
  std::string hex = to_hex(all);
  CHECK(hex.size() == 512);
  CHECK(hex.substr(0, 8) == "00010203");
  CHECK(hex.substr(504) == "fcfdfeff");
  auto back = from_hex(hex);
  REQUIRE(back.ok());
  CHECK(*back == all);

  CHECK(to_hex({}).empty());
  auto empty = from_hex("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  auto upper = from_hex("ABCDEF");
  REQUIRE(upper.ok());
  CHECK(to_hex(*upper) == "abcdef");
}

TEST_CASE("bad hex is rejected", "[hash][hex]") {
  for (const char* bad : {"0", "abc", "zz", "0g", "g0", " 00", "00 ", "0x00", "-1", "+1"}) {
    INFO(bad);
    auto result = from_hex(bad);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::parse);
  }
  std::string with_nul(
      "00\0"
      "0",
      4);
  CHECK_FALSE(from_hex(with_nul).ok());
}

TEST_CASE("hash_file hashes a file in one pass", "[hash][file]") {
  pw::test::TempDir dir;

  SECTION("empty file") {
    pw::test::write_file(dir / "empty", "");
    auto result = hash_file(dir / "empty");
    REQUIRE(result.ok());
    CHECK(result->length == 0);
    CHECK(result->sha256_hex == kSha256Empty);
    CHECK(result->sha512_hex == kSha512Empty);
  }

  SECTION("small file") {
    pw::test::write_file(dir / "abc", "abc");
    auto result = hash_file(dir / "abc");
    REQUIRE(result.ok());
    CHECK(result->length == 3);
    CHECK(result->sha256_hex == kSha256Abc);
    CHECK(result->sha512_hex == kSha512Abc);
  }

  SECTION("file larger than the read buffer") {
    const std::string data = pattern((std::size_t{3} << 20) + 17);
    pw::test::write_file(dir / "big", data);
    auto result = hash_file(dir / "big");
    REQUIRE(result.ok());
    CHECK(result->length == data.size());
    CHECK(result->sha256_hex == hex_digest(HashAlgorithm::sha256, data));
    CHECK(result->sha512_hex == hex_digest(HashAlgorithm::sha512, data));
  }

  SECTION("missing file") {
    auto result = hash_file(dir / "nope");
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::not_found);
    CHECK(result.error().message.find("nope") != std::string::npos);
  }

  SECTION("directory") {
    auto result = hash_file(dir.path());
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::io);
  }
}
