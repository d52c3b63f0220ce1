#include "common/crypto/keys.hpp"
#include "common/crypto/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

namespace pw::crypto {
namespace {

// ---------------------------------------------------------------------------------------
// RAII for OpenSSL handles.

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct OpenSslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using OpenSslBytes = std::unique_ptr<unsigned char, OpenSslFree>;

// ---------------------------------------------------------------------------------------
// Errors.

// The most recent reason OpenSSL queued (or "" if none). Public entry points hold an
// ErrorMark, which discards the queue entries on return.
std::string last_openssl_error() {
  unsigned long last = ERR_peek_last_error();
  if (last == 0) return {};
  std::array<char, 256> buffer{};
  ERR_error_string_n(last, buffer.data(), buffer.size());
  return buffer.data();
}

// Removes, on scope exit, whatever OpenSSL queued since construction, so that errors
// from our calls (including expected ones, like a bad signature's decoding errors) do
// not leak into unrelated error reporting later on this thread (libgit2 shares it).
class ErrorMark {
 public:
  ErrorMark() { ERR_set_mark(); }
  ~ErrorMark() { ERR_pop_to_mark(); }
  ErrorMark(const ErrorMark&) = delete;
  ErrorMark& operator=(const ErrorMark&) = delete;
};

Error openssl_error(Errc code, std::string what) {
  std::string reason = last_openssl_error();
  if (!reason.empty()) what += " (" + reason + ")";
  return make_error(code, std::move(what));
}

std::string type_name(const EVP_PKEY* pkey) {
  const char* name = EVP_PKEY_get0_type_name(pkey);
  return name != nullptr ? name : "an unknown key type";
}

// ---------------------------------------------------------------------------------------
// Constants and small helpers.

constexpr const char* kEd25519 = "ed25519";
constexpr const char* kEcdsaKeyType = "ecdsa";
constexpr const char* kEcdsaLegacyKeyType = "ecdsa-sha2-nistp256";
constexpr const char* kEcdsaScheme = "ecdsa-sha2-nistp256";
constexpr std::size_t kEd25519KeySize = 32;
constexpr std::size_t kEd25519SignatureSize = 64;
// Upper bound for a DER ECDSA P-256 signature (two 33-byte INTEGERs + headers).
constexpr std::size_t kMaxEcdsaSignatureSize = 72;
// Upper bound on PEM text we hand to OpenSSL (keys are a few hundred bytes).
constexpr std::size_t kMaxPemSize = 64 * 1024;

// Message bytes for OpenSSL: never a null pointer, even for an empty message.
const unsigned char* message_bytes(std::string_view message) {
  static const unsigned char kEmpty = 0;
  return message.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(message.data());
}

Result<BioPtr> read_bio(std::string_view data) {
  if (data.size() > kMaxPemSize) {
    return make_error(Errc::limit, "PEM text is " + std::to_string(data.size()) +
                                       " bytes, more than the limit of " +
                                       std::to_string(kMaxPemSize));
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return openssl_error(Errc::crypto, "BIO_new_mem_buf failed");
  return bio;
}

// Contents of a memory BIO as a string.
std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long size = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data
  if (size <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(size));
}

bool is_blank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// Hex of the DER SubjectPublicKeyInfo of `pkey`.
Result<std::string> spki_hex(EVP_PKEY* pkey) {
  unsigned char* raw = nullptr;
  int size = i2d_PUBKEY(pkey, &raw);
  OpenSslBytes der(raw);
  if (size <= 0 || !der) return openssl_error(Errc::crypto, "cannot encode public key as DER");
  return to_hex(Bytes(der.get(), der.get() + size));
}

Result<std::string> utf8_param(EVP_PKEY* pkey, const char* name) {
  std::array<char, 80> buffer{};
  std::size_t size = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, name, buffer.data(), buffer.size(), &size) != 1) {
    return openssl_error(Errc::crypto, std::string("cannot read key parameter ") + name);
  }
  return std::string(buffer.data(), size);
}

// Checks that an EC key is on P-256 with named-curve parameters, then normalises its
// encoding (uncompressed point) so that i2d_PUBKEY gives one identity per key.
Status require_p256(EVP_PKEY* pkey, std::string_view what) {
  std::array<char, 80> group{};
  std::size_t size = 0;
  if (EVP_PKEY_get_group_name(pkey, group.data(), group.size(), &size) != 1) {
    return make_error(Errc::unsupported,
                      std::string(what) + ": ECDSA key has no named curve; expected P-256");
  }
  std::string name(group.data(), size);
  if (name != "prime256v1" && name != "P-256") {
    return make_error(Errc::unsupported, std::string(what) + ": ECDSA key is on curve " + name +
                                             ", expected P-256 (prime256v1)");
  }
  PW_TRY_ASSIGN(std::string encoding, utf8_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING));
  if (encoding != OSSL_PKEY_EC_ENCODING_GROUP) {
    return make_error(Errc::unsupported,
                      std::string(what) + ": ECDSA key uses explicit curve parameters (" +
                          encoding + "); only the named curve P-256 is accepted");
  }
  if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                     OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
    return openssl_error(Errc::crypto, "cannot set EC point format");
  }
  return Ok{};
}

Result<PkeyPtr> parse_ed25519_public(const std::string& hex) {
  constexpr std::string_view kWhat = "key.keyval: field 'public'";
  if (hex.size() != 2 * kEd25519KeySize) {
    return make_error(Errc::parse, std::string(kWhat) +
                                       ": expected 64 hex characters (a raw 32-byte Ed25519 "
                                       "key), found " +
                                       std::to_string(hex.size()));
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return make_error(Errc::parse,
                        std::string(kWhat) + ": expected lowercase hex digits in an Ed25519 key");
    }
  }
  PW_TRY_ASSIGN(Bytes raw, from_hex(hex));
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, raw.data(), raw.size()));
  if (!pkey) return openssl_error(Errc::parse, std::string(kWhat) + ": bad Ed25519 key");
  return pkey;
}

Result<PkeyPtr> parse_ecdsa_public(const std::string& pem) {
  constexpr std::string_view kWhat = "key.keyval: field 'public'";
  constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----";
  std::size_t start = pem.find_first_not_of(" \t\r\n");
  if (start == std::string::npos || std::string_view(pem).substr(start, kBegin.size()) != kBegin) {
    return make_error(
        Errc::parse,
        std::string(kWhat) + ": expected a PEM public key starting with " + std::string(kBegin));
  }
  PW_TRY_ASSIGN(BioPtr bio, read_bio(pem));
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return openssl_error(Errc::parse, std::string(kWhat) + ": malformed PEM public key");
  // Nothing but whitespace may follow the key.
  if (!is_blank(bio_string(bio.get()))) {
    return make_error(Errc::parse, std::string(kWhat) + ": unexpected text after the PEM key");
  }
  if (!EVP_PKEY_is_a(pkey.get(), "EC")) {
    return make_error(
        Errc::unsupported,
        std::string(kWhat) + ": expected an EC public key, found " + type_name(pkey.get()));
  }
  PW_TRY(require_p256(pkey.get(), kWhat));
  return pkey;
}

// Which implemented scheme a TUF key object names, if any.
enum class Scheme { unsupported, ed25519, ecdsa_p256 };

Scheme classify(const std::string& keytype, const std::string& scheme) {
  if (keytype == kEd25519 && scheme == kEd25519) return Scheme::ed25519;
  if ((keytype == kEcdsaKeyType || keytype == kEcdsaLegacyKeyType) && scheme == kEcdsaScheme) {
    return Scheme::ecdsa_p256;
  }
  return Scheme::unsupported;
}

// Identifies a private key loaded from PEM.
Result<KeyType> private_key_type(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return KeyType::ed25519;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    PW_TRY(require_p256(pkey, "private key"));
    return KeyType::ecdsa_p256;
  }
  return make_error(Errc::unsupported, std::string("private key: unsupported key type ") +
                                           type_name(pkey) + "; expected Ed25519 or ECDSA P-256");
}

// pem_password_cb that refuses to supply a passphrase (and never prompts on a tty).
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

// Digest name for EVP_DigestSign/VerifyInit_ex: none for Ed25519 (PureEdDSA).
const char* digest_for(KeyType type) { return type == KeyType::ed25519 ? nullptr : "SHA256"; }

}  // namespace

// -----------------------------------------------------------------------------------------
// KeyType

Result<KeyType> parse_key_type(std::string_view name) {
  if (name == kEd25519) return KeyType::ed25519;
  if (name == kEcdsaKeyType || name == "ecdsa-p256" || name == kEcdsaLegacyKeyType) {
    return KeyType::ecdsa_p256;
  }
  return make_error(Errc::unsupported, "unsupported key type \"" + std::string(name) +
                                           "\" (expected ed25519 or ecdsa)");
}

// -----------------------------------------------------------------------------------------
// PublicKey

struct PublicKey::Impl {
  KeyType type;
  PkeyPtr pkey;
};

Result<PublicKey> PublicKey::from_json(const json::Value& key) {
  ErrorMark mark;
  if (!key.is_object()) return make_error(Errc::parse, "key: expected a JSON object");
  PW_TRY_ASSIGN(std::string keytype, json::get_string(key, "keytype", "key"));
  PW_TRY_ASSIGN(std::string scheme, json::get_string(key, "scheme", "key"));
  PW_TRY_ASSIGN(std::string canonical, json::canonical(key));

  PublicKey out;
  out.json_ = key;
  out.keyid_ = sha256_hex(canonical);
  out.scheme_ = scheme;

  Scheme kind = classify(keytype, scheme);
  if (kind == Scheme::unsupported) return out;  // parsed, never verifies

  PW_TRY_ASSIGN(const json::Value* keyval, json::get_object(key, "keyval", "key"));
  PW_TRY_ASSIGN(std::string material, json::get_string(*keyval, "public", "key.keyval"));

  auto impl = std::make_shared<Impl>();
  if (kind == Scheme::ed25519) {
    impl->type = KeyType::ed25519;
    PW_TRY_ASSIGN(impl->pkey, parse_ed25519_public(material));
  } else {
    impl->type = KeyType::ecdsa_p256;
    PW_TRY_ASSIGN(impl->pkey, parse_ecdsa_public(material));
  }
  PW_TRY_ASSIGN(out.identity_, spki_hex(impl->pkey.get()));
  out.impl_ = std::move(impl);
  return out;
}

bool PublicKey::verify(std::string_view message, std::string_view signature_hex) const {
  ErrorMark mark;
  if (!impl_) return false;
  auto signature = from_hex(signature_hex);
  if (!signature.ok() || signature->empty()) return false;
  if (impl_->type == KeyType::ed25519 && signature->size() != kEd25519SignatureSize) return false;
  if (impl_->type == KeyType::ecdsa_p256 && signature->size() > kMaxEcdsaSignatureSize) {
    return false;
  }

  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool valid = ctx &&
               EVP_DigestVerifyInit_ex(ctx.get(), nullptr, digest_for(impl_->type), nullptr,
                                       nullptr, impl_->pkey.get(), nullptr) == 1 &&
               EVP_DigestVerify(ctx.get(), signature->data(), signature->size(),
                                message_bytes(message), message.size()) == 1;
  return valid;
}

// -----------------------------------------------------------------------------------------
// PrivateKey

struct PrivateKey::Impl {
  PkeyPtr pkey;
};

Result<PrivateKey> PrivateKey::generate(KeyType type) {
  ErrorMark mark;
  PkeyCtxPtr ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type == KeyType::ed25519 ? "ED25519" : "EC", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) {
    return openssl_error(Errc::crypto, "cannot initialise key generation");
  }
  if (type == KeyType::ecdsa_p256 && EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) {
    return openssl_error(Errc::crypto, "cannot select curve P-256");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return openssl_error(Errc::crypto, "key generation failed");
  }
  auto impl = std::make_shared<Impl>();
  impl->pkey.reset(raw);
  PrivateKey out;
  out.impl_ = std::move(impl);
  out.type_ = type;
  return out;
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  ErrorMark mark;
  PW_TRY_ASSIGN(BioPtr bio, read_bio(pem));
  bool asked_for_passphrase = false;
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, &asked_for_passphrase));
  if (!pkey) {
    if (asked_for_passphrase) {
      return make_error(Errc::unsupported,
                        "private key: encrypted PEM keys are not supported; store the key "
                        "unencrypted with mode 0600");
    }
    return openssl_error(Errc::parse, "private key: malformed PEM private key");
  }
  PW_TRY_ASSIGN(KeyType type, private_key_type(pkey.get()));
  auto impl = std::make_shared<Impl>();
  impl->pkey = std::move(pkey);
  PrivateKey out;
  out.impl_ = std::move(impl);
  out.type_ = type;
  return out;
}

Result<PrivateKey> PrivateKey::load(const std::string& path) {
  PW_TRY_ASSIGN(std::string pem, read_secret_file(path, kMaxPemSize));
  auto key = from_pem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key.ok()) return std::move(key).error().with_context("loading " + path);
  return key;
}

std::string PrivateKey::to_pem() const {
  if (!impl_) throw std::logic_error("PrivateKey::to_pem on an empty key");
  ErrorMark mark;
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    throw std::runtime_error(openssl_error(Errc::crypto, "cannot encode private key").message);
  }
  return bio_string(bio.get());
}

Status PrivateKey::save(const std::string& path) const {
  if (!impl_) return make_error(Errc::invalid_argument, "cannot save an empty private key");
  ErrorMark mark;
  std::string pem = to_pem();
  Status written = write_secret_file(path, pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  return written;
}

json::Value PrivateKey::public_json() const {
  if (!impl_) throw std::logic_error("PrivateKey::public_json on an empty key");
  ErrorMark mark;
  EVP_PKEY* pkey = impl_->pkey.get();
  std::string material;
  if (type_ == KeyType::ed25519) {
    std::array<unsigned char, kEd25519KeySize> raw{};
    std::size_t size = raw.size();
    if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &size) != 1 || size != raw.size()) {
      throw std::runtime_error(
          openssl_error(Errc::crypto, "cannot read Ed25519 public key").message);
    }
    material = to_hex(Bytes(raw.begin(), raw.end()));
  } else {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey) != 1) {
      throw std::runtime_error(openssl_error(Errc::crypto, "cannot encode public key").message);
    }
    material = bio_string(bio.get());
  }
  bool ed = type_ == KeyType::ed25519;
  return json::Value{{"keytype", ed ? kEd25519 : kEcdsaKeyType},
                     {"scheme", ed ? kEd25519 : kEcdsaScheme},
                     {"keyval", {{"public", material}}}};
}

PublicKey PrivateKey::public_key() const {
  auto key = PublicKey::from_json(public_json());
  if (!key.ok()) {
    // Our own encoding of our own key failed to parse: a bug, not an input error.
    throw std::logic_error("PrivateKey::public_key: " + key.error().to_string());
  }
  return std::move(key).value();
}

Result<std::string> PrivateKey::sign(std::string_view message) const {
  if (!impl_) return make_error(Errc::invalid_argument, "cannot sign with an empty private key");
  ErrorMark mark;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, digest_for(type_), nullptr, nullptr,
                                    impl_->pkey.get(), nullptr) != 1) {
    return openssl_error(Errc::crypto, "cannot initialise signing");
  }
  // One-shot: required for Ed25519 (PureEdDSA cannot stream), fine for ECDSA.
  std::size_t size = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &size, message_bytes(message), message.size()) != 1) {
    return openssl_error(Errc::crypto, "cannot size signature");
  }
  Bytes signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, message_bytes(message), message.size()) !=
      1) {
    return openssl_error(Errc::crypto, "signing failed");
  }
  signature.resize(size);
  return to_hex(signature);
}

}  // namespace pw::crypto
