#include "common/crypto/keys.hpp"

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

using pw::Errc;
using pw::crypto::KeyType;
using pw::crypto::PrivateKey;
using pw::crypto::PublicKey;
using Json = pw::json::Value;

namespace {

// RFC 8032 section 7.1, TEST 1: the PKCS#8 form of the secret key is the DER prefix
// 302e020100300506032b657004220420 followed by the 32-byte seed
// 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60.
constexpr const char* kRfc8032Test1Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
constexpr const char* kRfc8032Test1Public =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr const char* kRfc8032Test1Signature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

// A P-256 key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`,
// and the signature `openssl dgst -sha256 -sign` made over kOpensslMessage.
constexpr const char* kOpensslEcPublic =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETg0dS/eAIAxMRmqDaIzcNTuls1D1\n"
    "tgeWR2M9q+PwjJvnVBnxtzN1o7KJAVyMOFmp3xARG6HvXyHjPkpoAkWHEw==\n"
    "-----END PUBLIC KEY-----\n";
constexpr const char* kOpensslMessage = "patchwave cross-check";
constexpr const char* kOpensslEcSignature =
    "3046022100f827fb9611c2cb94e397679fc86cc64a7b848b62ea410530ba86219a9c025cbe022100b33ef54a"
    "bc1bbf09d52da6aa4f0eb99788484c5268c6303cc737842362706a7c";
// The same public key with a compressed point (`openssl ec -conv_form compressed`).
constexpr const char* kOpensslEcPublicCompressed =
    "-----BEGIN PUBLIC KEY-----\n"
    "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADTg0dS/eAIAxMRmqDaIzcNTuls1D1\n"
    "tgeWR2M9q+PwjJs=\n"
    "-----END PUBLIC KEY-----\n";
// The same public key with explicit curve parameters (`openssl ec -param_enc explicit`).
constexpr const char* kOpensslEcPublicExplicit =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAA\n"
    "AAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA////\n"
    "///////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd\n"
    "NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5\n"
    "RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA\n"
    "//////////+85vqtpxeehPO5ysL8YyVRAgEBA0IABE4NHUv3gCAMTEZqg2iM3DU7\n"
    "pbNQ9bYHlkdjPavj8Iyb51QZ8bczdaOyiQFcjDhZqd8QERuh718h4z5KaAJFhxM=\n"
    "-----END PUBLIC KEY-----\n";
// A P-384 public key: a curve we do not accept.
constexpr const char* kP384Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEVt/9KXCVBGhXNu7sLa7LshvAnpBc6cvm\n"
    "ObO3T8fOONcLQzMGI+DLmrsY6uBQQnV8yheWKhPYGE78G6aqdmLh57sCHSlhfQFy\n"
    "wtWHgOBd6lECb5ta+nw71WdE9DlDKlhY\n"
    "-----END PUBLIC KEY-----\n";

Json ecdsa_json(const std::string& pem, const std::string& keytype = "ecdsa") {
  return Json{
      {"keytype", keytype}, {"scheme", "ecdsa-sha2-nistp256"}, {"keyval", {{"public", pem}}}};
}

Json ed25519_json(const std::string& hex) {
  return Json{{"keytype", "ed25519"}, {"scheme", "ed25519"}, {"keyval", {{"public", hex}}}};
}

PrivateKey generate(KeyType type) {
  auto key = PrivateKey::generate(type);
  REQUIRE(key.ok());
  return std::move(key).value();
}

PublicKey parse(const Json& json) {
  auto key = PublicKey::from_json(json);
  INFO(json.dump());
  if (!key.ok()) FAIL(key.error().to_string());
  return std::move(key).value();
}

// Flips one bit of the byte at `index` of a hex string.
std::string flip_hex(std::string hex, std::size_t index) {
  char& c = hex[2 * index + 1];
  const std::string digits = "0123456789abcdef";
  auto value = digits.find(c);
  c = digits[value ^ 1];
  return hex;
}

// Rewraps a PEM body at `width` columns.
std::string rewrap_pem(const std::string& pem, std::size_t width) {
  const std::string begin = "-----BEGIN PUBLIC KEY-----\n";
  const std::string end = "-----END PUBLIC KEY-----\n";
  REQUIRE(pem.rfind(begin, 0) == 0);
  std::string body;
  for (char c : pem.substr(begin.size(), pem.size() - begin.size() - end.size())) {
    if (c != '\n') body += c;
  }
  std::string out = begin;
  for (std::size_t i = 0; i < body.size(); i += width) out += body.substr(i, width) + "\n";
  return out + end;
}

mode_t file_mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("parse_key_type", "[keys]") {
  CHECK(*pw::crypto::parse_key_type("ed25519") == KeyType::ed25519);
  CHECK(*pw::crypto::parse_key_type("ecdsa") == KeyType::ecdsa_p256);
  CHECK(*pw::crypto::parse_key_type("ecdsa-p256") == KeyType::ecdsa_p256);
  CHECK(*pw::crypto::parse_key_type("ecdsa-sha2-nistp256") == KeyType::ecdsa_p256);
  auto rsa = pw::crypto::parse_key_type("rsa");
  REQUIRE_FALSE(rsa.ok());
  CHECK(rsa.error().code == Errc::unsupported);
}

TEST_CASE("generate, sign and verify", "[keys]") {
  auto type = GENERATE(KeyType::ed25519, KeyType::ecdsa_p256);
  PrivateKey key = generate(type);
  CHECK(key.type() == type);
  PublicKey pub = key.public_key();
  REQUIRE(pub.supported());
  CHECK(pub.keyid().size() == 64);
  CHECK_FALSE(pub.identity().empty());

  const std::string message = "{\"signed\":{\"version\":1}}";
  auto signature = key.sign(message);
  REQUIRE(signature.ok());
  if (type == KeyType::ed25519) CHECK(signature->size() == 128);
  CHECK(pub.verify(message, *signature));

  SECTION("a tampered message fails") {
    CHECK_FALSE(pub.verify("{\"signed\":{\"version\":2}}", *signature));
    CHECK_FALSE(pub.verify(message + " ", *signature));
    CHECK_FALSE(pub.verify("", *signature));
  }
  SECTION("a tampered signature fails") {
    // Every byte position, including inside ECDSA's DER framing.
    std::size_t bytes = signature->size() / 2;
    for (std::size_t i = 0; i < bytes; ++i) {
      INFO("byte " << i);
      CHECK_FALSE(pub.verify(message, flip_hex(*signature, i)));
    }
    CHECK_FALSE(pub.verify(message, signature->substr(2)));
    CHECK_FALSE(pub.verify(message, signature->substr(0, signature->size() - 2)));
    CHECK_FALSE(pub.verify(message, *signature + "00"));
  }
  SECTION("garbage signature hex fails without crashing") {
    for (const std::string& garbage :
         {std::string(), std::string("zz"), std::string("0"), std::string(128, 'g'),
          std::string(128, '0'), std::string(144, 'f'), std::string(100000, 'a'), std::string("30"),
          std::string("3006020101020101"), std::string("300602010002010"),
          std::string("3044022000")}) {
      CHECK_FALSE(pub.verify(message, garbage));
    }
  }
  SECTION("another key's signature fails") {
    PrivateKey other = generate(type);
    auto other_signature = other.sign(message);
    REQUIRE(other_signature.ok());
    CHECK_FALSE(pub.verify(message, *other_signature));
  }
  SECTION("an empty message signs and verifies") {
    auto empty_signature = key.sign("");
    REQUIRE(empty_signature.ok());
    CHECK(pub.verify("", *empty_signature));
    CHECK_FALSE(pub.verify("x", *empty_signature));
  }
}

TEST_CASE("random signatures never verify", "[keys]") {
  auto type = GENERATE(KeyType::ed25519, KeyType::ecdsa_p256);
  PublicKey pub = generate(type).public_key();
  std::uint32_t state = 42;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<std::uint8_t>(state >> 24);
  };
  for (int i = 0; i < 2000; ++i) {
    pw::crypto::Bytes bytes(next() % 80);
    for (auto& b : bytes) b = next();
    // Often shaped like DER: SEQUENCE of two INTEGERs, lengths possibly lying.
    if (bytes.size() >= 8 && (i % 2) == 0) {
      bytes[0] = 0x30;
      bytes[1] = static_cast<std::uint8_t>(bytes.size() - 2);
      bytes[2] = 0x02;
      bytes[3] = static_cast<std::uint8_t>(next() % 40);
    }
    if (type == KeyType::ed25519 && (i % 3) == 0) bytes.resize(64);
    CHECK_FALSE(pub.verify("message", pw::crypto::to_hex(bytes)));
  }
}

TEST_CASE("Ed25519 matches RFC 8032 test vector 1", "[keys][ed25519]") {
  auto key = PrivateKey::from_pem(kRfc8032Test1Pem);
  REQUIRE(key.ok());
  CHECK(key->type() == KeyType::ed25519);
  CHECK(key->public_json() == ed25519_json(kRfc8032Test1Public));

  auto signature = key->sign("");
  REQUIRE(signature.ok());
  CHECK(*signature == kRfc8032Test1Signature);

  PublicKey pub = parse(ed25519_json(kRfc8032Test1Public));
  CHECK(pub.verify("", kRfc8032Test1Signature));
  CHECK_FALSE(pub.verify("\x72", kRfc8032Test1Signature));
  // DER SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier { id-Ed25519 }, BIT STRING }.
  CHECK(pub.identity() == std::string("302a300506032b6570032100") + kRfc8032Test1Public);
  CHECK(key->to_pem() == kRfc8032Test1Pem);
}

TEST_CASE("ECDSA verifies a signature made by the openssl command line", "[keys][ecdsa]") {
  PublicKey pub = parse(ecdsa_json(kOpensslEcPublic));
  REQUIRE(pub.supported());
  CHECK(pub.verify(kOpensslMessage, kOpensslEcSignature));
  CHECK_FALSE(pub.verify("patchwave cross-check!", kOpensslEcSignature));

  SECTION("the legacy keytype spelling is the same key") {
    PublicKey legacy = parse(ecdsa_json(kOpensslEcPublic, "ecdsa-sha2-nistp256"));
    REQUIRE(legacy.supported());
    CHECK(legacy.verify(kOpensslMessage, kOpensslEcSignature));
    CHECK(legacy.identity() == pub.identity());
    CHECK(legacy.keyid() != pub.keyid());
  }
  SECTION("a compressed point is the same key") {
    PublicKey compressed = parse(ecdsa_json(kOpensslEcPublicCompressed));
    CHECK(compressed.identity() == pub.identity());
    CHECK(compressed.verify(kOpensslMessage, kOpensslEcSignature));
  }
  SECTION("explicit curve parameters are refused") {
    auto result = PublicKey::from_json(ecdsa_json(kOpensslEcPublicExplicit));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::unsupported);
    CHECK_THAT(result.error().message, Catch::Contains("explicit"));
  }
}

TEST_CASE("keyid is sha256 of the canonical JSON of the key", "[keys]") {
  PrivateKey key = generate(KeyType::ed25519);
  Json json = key.public_json();
  PublicKey pub = parse(json);
  auto canonical = pw::json::canonical(json);
  REQUIRE(canonical.ok());
  CHECK(pub.keyid() == pw::crypto::sha256_hex(*canonical));
  CHECK(pub.keyid() == key.public_key().keyid());
  CHECK(pub.to_json() == json);
  CHECK(pub.scheme() == "ed25519");

  // Known value: the canonical form sorts keys and drops whitespace.
  PublicKey rfc = parse(ed25519_json(kRfc8032Test1Public));
  CHECK(rfc.keyid() ==
        pw::crypto::sha256_hex(std::string("{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"") +
                               kRfc8032Test1Public + "\"},\"scheme\":\"ed25519\"}"));
}

TEST_CASE("identity ignores how the JSON spells the key", "[keys]") {
  SECTION("ed25519 with an extra field") {
    Json plain = ed25519_json(kRfc8032Test1Public);
    Json extra = plain;
    extra["keyid_hash_algorithms"] = Json::array({"sha256", "sha512"});
    PublicKey a = parse(plain);
    PublicKey b = parse(extra);
    CHECK(a.keyid() != b.keyid());
    CHECK(a.identity() == b.identity());
    CHECK_FALSE(a.identity().empty());
  }
  SECTION("ecdsa with different PEM line wrapping") {
    PrivateKey key = generate(KeyType::ecdsa_p256);
    std::string pem = key.public_json()["keyval"]["public"].get<std::string>();
    PublicKey a = parse(ecdsa_json(pem));
    PublicKey b = parse(ecdsa_json(rewrap_pem(pem, 76)));
    PublicKey c = parse(ecdsa_json(rewrap_pem(pem, 16)));
    CHECK(a.keyid() != b.keyid());
    CHECK(a.identity() == b.identity());
    CHECK(a.identity() == c.identity());
    CHECK(a.identity() == key.public_key().identity());
  }
  SECTION("different keys have different identities") {
    CHECK(generate(KeyType::ed25519).public_key().identity() !=
          generate(KeyType::ed25519).public_key().identity());
  }
}

TEST_CASE("an ECDSA signature verifies across a PEM re-wrap", "[keys][ecdsa]") {
  PrivateKey key = generate(KeyType::ecdsa_p256);
  std::string pem = key.public_json()["keyval"]["public"].get<std::string>();
  auto signature = key.sign("release 1.2.3");
  REQUIRE(signature.ok());
  for (std::size_t width : {16u, 64u, 76u, 200u}) {
    PublicKey rewrapped = parse(ecdsa_json(rewrap_pem(pem, width)));
    CHECK(rewrapped.verify("release 1.2.3", *signature));
  }
  // Without the trailing newline, and with CRLF line ends.
  std::string trimmed = pem.substr(0, pem.size() - 1);
  CHECK(parse(ecdsa_json(trimmed)).verify("release 1.2.3", *signature));
  std::string crlf;
  for (char c : pem) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  CHECK(parse(ecdsa_json(crlf)).verify("release 1.2.3", *signature));
}

TEST_CASE("unknown or mismatched schemes parse but never verify", "[keys]") {
  PrivateKey ed = generate(KeyType::ed25519);
  std::string ed_hex = ed.public_json()["keyval"]["public"].get<std::string>();
  auto ed_signature = ed.sign("m");
  REQUIRE(ed_signature.ok());

  std::vector<Json> keys = {
      Json{{"keytype", "rsa"},
           {"scheme", "rsassa-pss-sha256"},
           {"keyval", {{"public", "-----BEGIN PUBLIC KEY-----\nnot checked\n"}}}},
      Json{{"keytype", "rsa"}, {"scheme", "rsassa-pss-sha256"}},  // keyval not needed
      Json{{"keytype", "ed25519"},
           {"scheme", "ecdsa-sha2-nistp256"},
           {"keyval", {{"public", ed_hex}}}},
      Json{{"keytype", "ecdsa"}, {"scheme", "ed25519"}, {"keyval", {{"public", ed_hex}}}},
      Json{{"keytype", "ecdsa"}, {"scheme", "ecdsa-sha2-nistp384"}, {"keyval", {{"public", "x"}}}},
      Json{
          {"keytype", "sphincs"}, {"scheme", "sphincs-shake-128s"}, {"keyval", {{"public", "00"}}}},
  };
  for (const Json& json : keys) {
    INFO(json.dump());
    PublicKey key = parse(json);
    CHECK_FALSE(key.supported());
    CHECK(key.identity().empty());
    CHECK(key.keyid() == pw::crypto::sha256_hex(*pw::json::canonical(json)));
    CHECK(key.scheme() == json["scheme"].get<std::string>());
    CHECK_FALSE(key.verify("m", *ed_signature));
    CHECK_FALSE(key.verify("m", ""));
    CHECK_FALSE(key.verify("", "00"));
  }
}

TEST_CASE("malformed keys of a known type are errors", "[keys]") {
  auto error_of = [](const Json& json) {
    auto result = PublicKey::from_json(json);
    INFO(json.dump());
    REQUIRE_FALSE(result.ok());
    return result.error();
  };

  SECTION("missing fields name the field") {
    auto e = error_of(Json{{"keytype", "ed25519"}, {"scheme", "ed25519"}});
    CHECK(e.code == Errc::parse);
    CHECK_THAT(e.message, Catch::Contains("keyval"));

    e = error_of(
        Json{{"keytype", "ecdsa"}, {"scheme", "ecdsa-sha2-nistp256"}, {"keyval", Json::object()}});
    CHECK(e.code == Errc::parse);
    CHECK_THAT(e.message, Catch::Contains("public"));

    e = error_of(Json{{"keytype", "ed25519"}, {"scheme", "ed25519"}, {"keyval", {{"public", 7}}}});
    CHECK(e.code == Errc::parse);
    CHECK_THAT(e.message, Catch::Contains("public"));

    e = error_of(Json{{"scheme", "ed25519"}, {"keyval", {{"public", kRfc8032Test1Public}}}});
    CHECK(e.code == Errc::parse);
    CHECK_THAT(e.message, Catch::Contains("keytype"));

    e = error_of(Json{{"keytype", "ed25519"}, {"keyval", {{"public", kRfc8032Test1Public}}}});
    CHECK(e.code == Errc::parse);
    CHECK_THAT(e.message, Catch::Contains("scheme"));

    CHECK(error_of(Json::array()).code == Errc::parse);
    CHECK(error_of(Json("ed25519")).code == Errc::parse);
  }
  SECTION("bad ed25519 hex") {
    std::string good = kRfc8032Test1Public;
    for (const std::string& bad :
         {std::string(), good.substr(2), good + "00", "0x" + good.substr(2), std::string(64, 'g'),
          std::string(64, 'A')}) {
      auto e = error_of(ed25519_json(bad));
      CHECK(e.code == Errc::parse);
      CHECK_THAT(e.message, Catch::Contains("public"));
    }
  }
  SECTION("bad PEM") {
    std::string good = kOpensslEcPublic;
    std::string corrupted = good;
    corrupted[40] = corrupted[40] == 'A' ? 'B' : 'A';
    for (const std::string& bad :
         {std::string(), std::string("not pem"), std::string(kOpensslEcPublic).substr(0, 60),
          std::string("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"),
          good + "trailing junk\n", "junk\n" + good, corrupted}) {
      INFO(bad);
      auto result = PublicKey::from_json(ecdsa_json(bad));
      CHECK_FALSE(result.ok());
    }
  }
  SECTION("wrong curve or key type") {
    auto e = error_of(ecdsa_json(kP384Public));
    CHECK(e.code == Errc::unsupported);
    CHECK_THAT(e.message, Catch::Contains("P-256"));
    CHECK_THAT(e.message, Catch::Contains("secp384r1"));

    // An Ed25519 key (RFC 8032 test 1) in SPKI PEM form under an ecdsa keytype.
    std::string ed_pem =
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
        "-----END PUBLIC KEY-----\n";
    e = error_of(ecdsa_json(ed_pem));
    CHECK(e.code == Errc::unsupported);
  }
}

TEST_CASE("PEM trailing text is refused", "[keys][ecdsa]") {
  auto result = PublicKey::from_json(ecdsa_json(std::string(kOpensslEcPublic) + "junk\n"));
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::parse);
  CHECK_THAT(result.error().message, Catch::Contains("after the PEM key"));
  // Two keys in one field are trailing text too.
  CHECK_FALSE(
      PublicKey::from_json(ecdsa_json(std::string(kOpensslEcPublic) + kOpensslEcPublic)).ok());
  // Trailing whitespace is fine.
  CHECK(PublicKey::from_json(ecdsa_json(std::string(kOpensslEcPublic) + "\n \n")).ok());
}

TEST_CASE("failures leave no OpenSSL errors queued", "[keys]") {
  ERR_clear_error();
  PublicKey ec = parse(ecdsa_json(kOpensslEcPublic));
  CHECK_FALSE(ec.verify(kOpensslMessage, "3006020101020101"));
  CHECK_FALSE(ec.verify(kOpensslMessage, std::string(140, '0')));
  CHECK_FALSE(PublicKey::from_json(ecdsa_json("-----BEGIN PUBLIC KEY-----\n!!\n")).ok());
  CHECK_FALSE(PublicKey::from_json(ecdsa_json(kP384Public)).ok());
  CHECK_FALSE(
      PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("public_json has the TUF shape", "[keys]") {
  SECTION("ed25519") {
    PrivateKey key = generate(KeyType::ed25519);
    Json json = key.public_json();
    CHECK(json.size() == 3);
    CHECK(json["keytype"] == "ed25519");
    CHECK(json["scheme"] == "ed25519");
    std::string hex = json["keyval"]["public"].get<std::string>();
    CHECK(hex.size() == 64);
    CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(json["keyval"].size() == 1);
  }
  SECTION("ecdsa") {
    PrivateKey key = generate(KeyType::ecdsa_p256);
    Json json = key.public_json();
    CHECK(json.size() == 3);
    CHECK(json["keytype"] == "ecdsa");
    CHECK(json["scheme"] == "ecdsa-sha2-nistp256");
    std::string pem = json["keyval"]["public"].get<std::string>();
    CHECK(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0) == 0);
    CHECK(pem.size() > 26);
    CHECK(pem.substr(pem.size() - 25) == "-----END PUBLIC KEY-----\n");
    CHECK(json["keyval"].size() == 1);
    CHECK(key.public_key().scheme() == "ecdsa-sha2-nistp256");
  }
}

TEST_CASE("private key PEM round trip", "[keys][pem]") {
  auto type = GENERATE(KeyType::ed25519, KeyType::ecdsa_p256);
  PrivateKey key = generate(type);
  std::string pem = key.to_pem();
  CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);  // PKCS#8

  auto back = PrivateKey::from_pem(pem);
  REQUIRE(back.ok());
  CHECK(back->type() == type);
  CHECK(back->to_pem() == pem);
  CHECK(back->public_json() == key.public_json());
  auto signature = back->sign("round trip");
  REQUIRE(signature.ok());
  CHECK(key.public_key().verify("round trip", *signature));
}

TEST_CASE("from_pem rejects what it cannot use", "[keys][pem]") {
  SECTION("garbage") {
    for (const char* bad :
         {"", "hello", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}) {
      auto result = PrivateKey::from_pem(bad);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().code == Errc::parse);
    }
  }
  SECTION("a public key is not a private key") {
    CHECK_FALSE(PrivateKey::from_pem(kOpensslEcPublic).ok());
  }
  SECTION("encrypted keys are refused without prompting") {
    // `openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:x`.
    const char* encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhbLw2Z+WuCTAICCAAw\n"
        "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEHUVd13XshAZS4b2gOMMFiQEQK60\n"
        "R0vmP+/WeAySbHngxtCNmT0UjUq+DYWiujHZQY6rj6twugxz+Oa8gzvZKL5+g1z8\n"
        "AKtumtL7aBdQTO2jaYI=\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n";
    auto result = PrivateKey::from_pem(encrypted);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::unsupported);
    CHECK_THAT(result.error().message, Catch::Contains("encrypted"));
  }
}

TEST_CASE("load checks file permissions", "[keys][file]") {
  pw::test::TempDir dir;
  PrivateKey key = generate(KeyType::ed25519);
  const std::string path = dir / "key.pem";
  pw::test::write_file(path, key.to_pem());

  SECTION("0644 is refused") {
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    auto result = PrivateKey::load(path);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::permission);
    CHECK_THAT(result.error().message, Catch::Contains("mode 0644"));
    CHECK_THAT(result.error().message, Catch::Contains("chmod 600 " + path));
    CHECK_THAT(result.error().message, Catch::StartsWith(path + ": "));
  }
  SECTION("any group or other bit is refused") {
    for (mode_t mode : {0640u, 0604u, 0620u, 0602u, 0610u, 0601u, 0660u}) {
      REQUIRE(::chmod(path.c_str(), mode) == 0);
      auto result = PrivateKey::load(path);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().code == Errc::permission);
    }
  }
  SECTION("0600 and 0400 are accepted") {
    for (mode_t mode : {0600u, 0400u}) {
      REQUIRE(::chmod(path.c_str(), mode) == 0);
      auto loaded = PrivateKey::load(path);
      REQUIRE(loaded.ok());
      CHECK(loaded->public_json() == key.public_json());
    }
  }
  SECTION("a missing file is not_found") {
    auto result = PrivateKey::load(dir / "missing.pem");
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::not_found);
  }
  SECTION("a malformed key names the file") {
    pw::test::write_file(dir / "bad.pem", "not a key\n");
    REQUIRE(::chmod((dir / "bad.pem").c_str(), 0600) == 0);
    auto result = PrivateKey::load(dir / "bad.pem");
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::parse);
    CHECK_THAT(result.error().to_string(), Catch::Contains("bad.pem"));
  }
}

TEST_CASE("save writes 0600 atomically and never overwrites", "[keys][file]") {
  auto type = GENERATE(KeyType::ed25519, KeyType::ecdsa_p256);
  pw::test::TempDir dir;
  PrivateKey key = generate(type);
  const std::string path = dir / "signing.pem";

  REQUIRE(key.save(path).ok());
  CHECK(file_mode(path) == 0600);
  CHECK(pw::test::read_file(path) == key.to_pem());
  auto loaded = PrivateKey::load(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->public_json() == key.public_json());

  // Refuses to overwrite, and leaves the original (and no temp files) behind.
  PrivateKey other = generate(type);
  auto again = other.save(path);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::conflict);
  CHECK(pw::test::read_file(path) == key.to_pem());

  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
  }
  CHECK(entries == 1);

  SECTION("a missing directory is an error") {
    auto result = key.save(dir / "no/such/dir/key.pem");
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::io);
  }
}
