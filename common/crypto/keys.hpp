// Keys in TUF's formats, with signing and verification through OpenSSL 3 EVP.
//
// Public keys as TUF writes them:
//   ed25519: {"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"<64 hex>"}}
//   ecdsa:   {"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256",
//             "keyval":{"public":"-----BEGIN PUBLIC KEY-----\n...PEM..."}}
//            (keytype "ecdsa-sha2-nistp256" is accepted as an alias, as older
//             securesystemslib wrote it)
// Signatures are lowercase hex: raw 64 bytes for ed25519, DER for ECDSA (the message is
// hashed with SHA-256 by the scheme).
// Key id = lowercase hex sha256 of the canonical JSON of the key object as given.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/crypto/hash.hpp"
#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::crypto {

enum class KeyType { ed25519, ecdsa_p256 };

// Parses "ed25519" or "ecdsa" (also "ecdsa-p256", "ecdsa-sha2-nistp256").
Result<KeyType> parse_key_type(std::string_view name);

class PublicKey {
 public:
  // Parses a TUF key object. A key whose keytype/scheme is not one we implement is
  // NOT an error: it parses with supported() == false and never verifies anything
  // (TUF: unknown schemes are ignored, never trusted). Malformed keys of a known type
  // (bad hex, bad PEM, wrong curve) are errors.
  static Result<PublicKey> from_json(const json::Value& key);

  const std::string& keyid() const { return keyid_; }  // sha256 of canonical JSON
  const json::Value& to_json() const { return json_; }
  const std::string& scheme() const { return scheme_; }
  bool supported() const { return static_cast<bool>(impl_); }

  // Identity of the key material, independent of how the JSON spells it (hex of the
  // DER SubjectPublicKeyInfo). Two key ids with the same identity are the same key,
  // so a threshold counts it once. Empty for unsupported keys.
  const std::string& identity() const { return identity_; }

  // True only for a valid signature by this key over `message` under its scheme.
  // Unsupported keys and malformed signatures verify false.
  bool verify(std::string_view message, std::string_view signature_hex) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  json::Value json_;
  std::string keyid_;
  std::string scheme_;
  std::string identity_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> generate(KeyType type);

  // Loads a PKCS#8 PEM private key. Refuses (Errc::permission) a file that group or
  // others can read or write: a signing key must be 0600 or stricter.
  static Result<PrivateKey> load(const std::string& path);
  static Result<PrivateKey> from_pem(std::string_view pem);

  // Writes the key as PKCS#8 PEM with mode 0600, atomically (temp file + rename);
  // refuses to overwrite an existing file.
  Status save(const std::string& path) const;
  std::string to_pem() const;

  KeyType type() const { return type_; }
  // The TUF public key object (see above) and its parsed form.
  json::Value public_json() const;
  PublicKey public_key() const;

  // Hex signature over `message` under the key's scheme.
  Result<std::string> sign(std::string_view message) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  KeyType type_ = KeyType::ed25519;
};

}  // namespace pw::crypto
