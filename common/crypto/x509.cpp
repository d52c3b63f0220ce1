#include "common/crypto/x509.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/crypto/cert_cache.hpp"
#include "common/crypto/hash.hpp"
#include "common/crypto/x509_detail.hpp"

namespace pw::crypto::x509 {
namespace {

using namespace detail;  // x509_detail.hpp: handles, errors, names

constexpr std::size_t kMaxCsrSize = 16 * 1024;
constexpr std::size_t kMaxPemSize = 64 * 1024;
constexpr std::int64_t kClockSkew = 60;                         // notBefore = now - 60 s
constexpr std::int64_t kMaxValidity = 100LL * 365 * 24 * 3600;  // a sanity bound

std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

// --- PEM and DER

Result<Ptr<BIO>> read_bio(std::string_view data, std::size_t limit, std::string_view what) {
  if (data.size() > limit) {
    return fail(Errc::limit, what, "more than " + std::to_string(limit) + " bytes of PEM text");
  }
  Ptr<BIO> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return openssl_error(Errc::crypto, what, "BIO_new_mem_buf failed");
  return bio;
}

// Writes `object` with a PEM_write_bio_* function (a secure-heap BIO for private keys).
template <typename T, typename Write>
Result<std::string> pem_text(T* object, Write write, std::string_view what) {
  Ptr<BIO> bio(BIO_new(BIO_s_secmem()));
  PW_TRY(require(bio && write(bio.get(), object) == 1, Errc::crypto, what, "cannot encode PEM"));
  char* data = nullptr;
  long size = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data
  return size > 0 && data != nullptr ? std::string(data, static_cast<std::size_t>(size)) : "";
}

int write_private_key(BIO* bio, EVP_PKEY* key) {  // PKCS#8, unencrypted
  return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
}

// Hex sha256 of what an i2d_* call just encoded into *raw (which this frees).
Result<std::string> der_sha256(int size, unsigned char** raw, std::string_view what) {
  Ptr<unsigned char> der(*raw);
  if (size <= 0 || !der) return openssl_error(Errc::crypto, what, "cannot encode as DER");
  return sha256_hex(
      std::string_view(reinterpret_cast<const char*>(der.get()), static_cast<std::size_t>(size)));
}

// The sha256 of a certificate's or a CSR's SubjectPublicKeyInfo, from the structure as
// it was read: the DER i2d_PUBKEY would give, without OpenSSL 3's encoder (most of a
// millisecond per call; the controller reads every agent's certificate it meets).
Result<std::string> spki_sha256(const X509_PUBKEY* key, std::string_view what) {
  if (key == nullptr) return fail(Errc::unsupported, what, "no public key");
  unsigned char* raw = nullptr;
  return der_sha256(i2d_X509_PUBKEY(key, &raw), &raw, what);
}

// Copies the subject key of a CSR into a certificate field by field (algorithm, its
// parameters, the key's bits): X509_set_pubkey would encode the decoded key again.
Status copy_public_key(X509* cert, const X509_PUBKEY* from) {
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* bits = nullptr;
  int length = 0;
  X509_ALGOR* algor = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, &bits, &length, &algor, from) != 1 || algor == nullptr ||
      bits == nullptr || length <= 0) {
    return openssl_error(Errc::unsupported, "csr", "unreadable public key");
  }
  const ASN1_OBJECT* object = nullptr;
  int type = 0;
  const void* value = nullptr;
  X509_ALGOR_get0(&object, &type, &value, algor);
  void* parameters = nullptr;
  if (type == V_ASN1_OBJECT) {
    parameters = OBJ_dup(static_cast<const ASN1_OBJECT*>(value));
  } else if (type == V_ASN1_SEQUENCE) {
    parameters = ASN1_STRING_dup(static_cast<const ASN1_STRING*>(value));
  } else if (type != V_ASN1_UNDEF && type != V_ASN1_NULL) {
    return fail(Errc::unsupported, "csr", "public key parameters of an unknown kind");
  }
  Ptr<ASN1_OBJECT> object_copy(OBJ_dup(object));
  auto* bits_copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, static_cast<size_t>(length)));
  bool no_copy = !object_copy || bits_copy == nullptr ||
                 ((type == V_ASN1_OBJECT || type == V_ASN1_SEQUENCE) && parameters == nullptr);
  if (no_copy || X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), object_copy.get(), type,
                                        parameters, bits_copy, length) != 1) {
    OPENSSL_free(bits_copy);
    if (type == V_ASN1_OBJECT) ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(parameters));
    if (type == V_ASN1_SEQUENCE) ASN1_STRING_free(static_cast<ASN1_STRING*>(parameters));
    return openssl_error(Errc::crypto, "certificate", "cannot copy the public key");
  }
  (void)object_copy.release();  // owned by the certificate now
  return Ok{};
}

// pem_password_cb that refuses to supply a passphrase (and never prompts on a tty).
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

Result<Ptr<EVP_PKEY>> parse_private_key(std::string_view pem, std::string_view what) {
  PW_TRY_ASSIGN(Ptr<BIO> bio, read_bio(pem, kMaxPemSize, what));
  Ptr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) return openssl_error(Errc::parse, what, "not a valid unencrypted PEM private key");
  return key;
}

// The certificates of a PEM text (only the first unless `all`); a malformed one fails.
Result<std::vector<Ptr<X509>>> parse_certificates(std::string_view pem, std::string_view what,
                                                  bool all) {
  PW_TRY_ASSIGN(Ptr<BIO> bio, read_bio(pem, kMaxPemSize, what));
  std::vector<Ptr<X509>> certs;
  do {
    certs.emplace_back(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  } while (certs.back() && all);
  // Running out of PEM blocks after the first certificate ends a bundle.
  unsigned long last = ERR_peek_last_error();
  if (certs.size() > 1 && ERR_GET_LIB(last) == ERR_LIB_PEM &&
      ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    certs.pop_back();
  }
  PW_TRY(require(certs.back() != nullptr, Errc::parse, what, "not valid PEM"));
  return certs;
}

Result<Ptr<X509>> parse_certificate(std::string_view pem, std::string_view what) {
  PW_TRY_ASSIGN(std::vector<Ptr<X509>> certs, parse_certificates(pem, what, false));
  return std::move(certs.front());
}

// --- Keys

// Accepts ECDSA P-256 (named curve), Ed25519 and, when `allow_rsa`, RSA >= 2048 bits.
Status check_key(EVP_PKEY* key, std::string_view what, bool allow_rsa) {
  if (EVP_PKEY_is_a(key, "ED25519")) return Ok{};
  if (EVP_PKEY_is_a(key, "EC")) {
    std::array<char, 80> group{}, encoding{};
    std::size_t group_size = 0, encoding_size = 0;
    EVP_PKEY_get_group_name(key, group.data(), group.size(), &group_size);
    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding.data(),
                                   encoding.size(), &encoding_size);
    std::string name(group.data(), group_size);
    if ((name != "prime256v1" && name != "P-256") ||
        std::string(encoding.data(), encoding_size) != OSSL_PKEY_EC_ENCODING_GROUP) {
      return fail(Errc::unsupported, what,
                  "ECDSA key on curve '" + name + "'; expected the named curve P-256");
    }
    return Ok{};
  }
  if (allow_rsa && EVP_PKEY_is_a(key, "RSA")) {
    if (int bits = EVP_PKEY_get_bits(key); bits < 2048) {
      return fail(Errc::unsupported, what,
                  "RSA key of " + std::to_string(bits) + " bits; at least 2048 are required");
    }
    return Ok{};
  }
  const char* name = EVP_PKEY_get0_type_name(key);
  return fail(Errc::unsupported, what,
              std::string("unsupported key type ") + (name != nullptr ? name : "(unknown)") +
                  "; expected ECDSA P-256 or Ed25519" + (allow_rsa ? " or RSA >= 2048" : ""));
}

// Digest for X509_sign / X509_REQ_sign: none for Ed25519 (PureEdDSA), else SHA-256.
const EVP_MD* digest_for(const EVP_PKEY* key) {
  return EVP_PKEY_is_a(key, "ED25519") ? nullptr : EVP_sha256();
}

Result<std::int64_t> unix_time(const ASN1_TIME* time, std::string_view what) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return fail(Errc::parse, what, "malformed validity time");
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

// --- Building certificates

// Parses a PEM CSR and checks its key type and self-signature.
Result<Ptr<X509_REQ>> parse_csr(std::string_view pem) {
  PW_TRY_ASSIGN(Ptr<BIO> bio, read_bio(pem, kMaxCsrSize, "csr"));
  Ptr<X509_REQ> req(PEM_read_bio_X509_REQ(bio.get(), nullptr, no_passphrase, nullptr));
  if (!req) return openssl_error(Errc::parse, "csr", "not valid PEM");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) return openssl_error(Errc::unsupported, "csr", "unreadable public key");
  PW_TRY(check_key(key, "csr", true));
  PW_TRY(require(X509_REQ_verify(req.get(), key) == 1, Errc::signature, "csr",
                 "self-signature does not verify"));
  return req;
}

// A v3 certificate with a random positive 128-bit serial, the subject CN, the issuer's
// name (null: self-issued), validity [now - 60 s, not_after] and the subject's key.
Result<Ptr<X509>> new_certificate(const std::string& common_name, const X509_NAME* issuer,
                                  EVP_PKEY* key, const X509_PUBKEY* spki, std::int64_t now,
                                  std::int64_t not_after) {
  std::array<unsigned char, 16> random{};
  PW_TRY(require(RAND_bytes(random.data(), 16) == 1, Errc::crypto, "certificate", "no randomness"));
  random[0] = static_cast<unsigned char>((random[0] & 0x7F) | 0x40);  // positive, 16 bytes
  Ptr<BIGNUM> bn(BN_bin2bn(random.data(), static_cast<int>(random.size()), nullptr));
  Ptr<ASN1_INTEGER> serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  PW_TRY_ASSIGN(Ptr<X509_NAME> subject, subject_name(common_name, "certificate"));
  Ptr<X509> cert(X509_new());
  PW_TRY(require(
      serial && cert && X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
          X509_set_serialNumber(cert.get(), serial.get()) == 1 &&
          X509_set_subject_name(cert.get(), subject.get()) == 1 &&
          X509_set_issuer_name(cert.get(), issuer != nullptr ? issuer : subject.get()) == 1 &&
          ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(now - kClockSkew)) &&
          ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(not_after)) &&
          (spki != nullptr || X509_set_pubkey(cert.get(), key) == 1),
      Errc::crypto, "certificate", "cannot fill in the fields"));
  if (spki != nullptr) PW_TRY(copy_public_key(cert.get(), spki));
  return cert;
}

// Adds extensions (OpenSSL configuration syntax, constant strings only) and the
// subjectAltName of `names`, then signs with the issuer's key.
Status finish_certificate(X509* cert, X509* issuer, EVP_PKEY* issuer_key, const Names& names,
                          std::initializer_list<std::pair<int, const char*>> extensions) {
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    Ptr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
    PW_TRY(require(ext && X509_add_ext(cert, ext.get(), -1) == 1, Errc::crypto, "certificate",
                   std::string("cannot add ") + OBJ_nid2sn(nid)));
  }
  PW_TRY_ASSIGN(Ptr<GENERAL_NAMES> gens, alt_names(names));
  return require((!gens || X509_add1_ext_i2d(cert, NID_subject_alt_name, gens.get(), 0, 0) == 1) &&
                     X509_sign(cert, issuer_key, digest_for(issuer_key)) > 0,
                 Errc::crypto, "certificate", "cannot add subjectAltName and sign");
}

Status check_validity(std::int64_t seconds, std::string_view what) {
  bool ok = seconds > 0 && seconds <= kMaxValidity;
  return ok ? Status(Ok{}) : fail(Errc::invalid_argument, what, "validity out of range");
}

}  // namespace

// --- Keys and CSRs

Result<std::string> generate_private_key_pem() {
  ErrorMark mark;
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  bool ok = ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") == 1 &&
            EVP_PKEY_generate(ctx.get(), &raw) == 1;
  Ptr<EVP_PKEY> key(raw);
  PW_TRY(require(ok, Errc::crypto, "private key", "P-256 key generation failed"));
  return pem_text(key.get(), write_private_key, "private key");
}

Result<std::string> make_csr(std::string_view key_pem, const Names& names) {
  ErrorMark mark;
  PW_TRY(check_names(names, "csr"));
  PW_TRY_ASSIGN(Ptr<EVP_PKEY> key, parse_private_key(key_pem, "private key"));
  PW_TRY(check_key(key.get(), "private key", false));
  PW_TRY_ASSIGN(Ptr<X509_NAME> subject, subject_name(names.common_name, "csr"));
  PW_TRY_ASSIGN(Ptr<GENERAL_NAMES> gens, alt_names(names));
  STACK_OF(X509_EXTENSION)* raw = nullptr;  // the requested extensions: subjectAltName
  bool encoded = !gens || X509V3_add1_i2d(&raw, NID_subject_alt_name, gens.get(), 0, 0) == 1;
  Ptr<STACK_OF(X509_EXTENSION)> exts(raw);
  Ptr<X509_REQ> req(X509_REQ_new());
  PW_TRY(require(encoded && req && X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) == 1 &&
                     X509_REQ_set_subject_name(req.get(), subject.get()) == 1 &&
                     X509_REQ_set_pubkey(req.get(), key.get()) == 1 &&
                     (!exts || X509_REQ_add_extensions(req.get(), exts.get()) == 1) &&
                     X509_REQ_sign(req.get(), key.get(), digest_for(key.get())) > 0,
                 Errc::crypto, "csr", "cannot build and sign the request"));
  return pem_text(req.get(), PEM_write_bio_X509_REQ, "csr");
}

Result<CsrInfo> read_csr(std::string_view csr_pem) {
  ErrorMark mark;
  PW_TRY_ASSIGN(Ptr<X509_REQ> req, parse_csr(csr_pem));
  Ptr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req.get()));
  int crit = -1;
  void* san = exts ? X509V3_get_d2i(exts.get(), NID_subject_alt_name, &crit, nullptr) : nullptr;
  CsrInfo info;
  PW_TRY_ASSIGN(info.names, read_names(X509_REQ_get_subject_name(req.get()), san, crit, "csr"));
  PW_TRY_ASSIGN(info.public_key_sha256, spki_sha256(X509_REQ_get_X509_PUBKEY(req.get()), "csr"));
  return info;
}

// --- Certificates

namespace {

detail::CertCache& cert_cache() {
  static detail::CertCache cache;
  return cache;
}

Result<CertInfo> decode_certificate(std::string_view cert_pem);
Result<CertInfo> describe(X509* cert);

}  // namespace

Result<CertInfo> read_certificate(std::string_view cert_pem) {
  if (auto known = cert_cache().find(cert_pem)) return *known;
  PW_TRY_ASSIGN(CertInfo info, decode_certificate(cert_pem));
  cert_cache().add(cert_pem, info);
  return info;
}

Result<std::string> certificate_sha256(std::string_view cert_pem) {
  ErrorMark mark;
  PW_TRY_ASSIGN(Ptr<BIO> bio, read_bio(cert_pem, kMaxPemSize, "certificate"));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long size = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &size) != 1) {
    return fail(Errc::parse, "certificate", "not valid PEM");
  }
  Ptr<unsigned char> owned_name(reinterpret_cast<unsigned char*>(name));
  Ptr<unsigned char> owned_header(reinterpret_cast<unsigned char*>(header));
  Ptr<unsigned char> owned_data(data);
  if (std::string_view(name) != "CERTIFICATE" || size <= 0) {
    return fail(Errc::parse, "certificate", "the first PEM block is not a CERTIFICATE");
  }
  return sha256_hex(
      std::string_view(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)));
}

namespace {

Result<CertInfo> decode_certificate(std::string_view cert_pem) {
  ErrorMark mark;
  PW_TRY_ASSIGN(Ptr<X509> cert, parse_certificate(cert_pem, "certificate"));
  return describe(cert.get());
}

// What read_certificate says of a certificate, from the decoded (or just built) one.
Result<CertInfo> describe(X509* cert) {
  constexpr std::string_view kWhat = "certificate";
  CertInfo info;
  int crit = -1;
  void* san = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr);
  PW_TRY_ASSIGN(info.names, read_names(X509_get_subject_name(cert), san, crit, kWhat));
  PW_TRY_ASSIGN(info.issuer_common_name,
                common_name_of(X509_get_issuer_name(cert), "certificate issuer"));
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  const unsigned char* magnitude = ASN1_STRING_get0_data(serial);
  info.serial_hex = (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? "-" : "") +
                    to_hex(Bytes(magnitude, magnitude + ASN1_STRING_length(serial)));
  PW_TRY_ASSIGN(info.not_before, unix_time(X509_get0_notBefore(cert), kWhat));
  PW_TRY_ASSIGN(info.not_after, unix_time(X509_get0_notAfter(cert), kWhat));
  unsigned char* der = nullptr;
  PW_TRY_ASSIGN(info.sha256_fingerprint, der_sha256(i2d_X509(cert, &der), &der, kWhat));
  info.is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
  PW_TRY_ASSIGN(info.public_key_sha256, spki_sha256(X509_get_X509_PUBKEY(cert), kWhat));
  return info;
}

}  // namespace

Status verify_certificate(std::string_view cert_pem, std::string_view ca_pem,
                          std::int64_t now_unix) {
  ErrorMark mark;
  PW_TRY_ASSIGN(Ptr<X509> cert, parse_certificate(cert_pem, "certificate"));
  PW_TRY_ASSIGN(std::vector<Ptr<X509>> roots, parse_certificates(ca_pem, "ca certificate", true));
  Ptr<X509_STORE> store(X509_STORE_new());
  Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  bool ready = store && ctx;
  for (std::size_t i = 0; ready && i < roots.size(); ++i) {
    ready = X509_STORE_add_cert(store.get(), roots[i].get()) == 1;
  }
  PW_TRY(require(ready && X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) == 1,
                 Errc::crypto, "certificate", "cannot set up verification"));
  if (now_unix != 0) X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(now_unix));
  if (X509_verify_cert(ctx.get()) != 1) {
    return fail(Errc::signature, "certificate",
                std::string("does not verify against the CA: ") +
                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  return Ok{};
}

Result<bool> key_matches_certificate(std::string_view key_pem, std::string_view cert_pem) {
  ErrorMark mark;
  PW_TRY_ASSIGN(Ptr<EVP_PKEY> key, parse_private_key(key_pem, "private key"));
  PW_TRY_ASSIGN(Ptr<X509> cert, parse_certificate(cert_pem, "certificate"));
  EVP_PKEY* public_key = X509_get0_pubkey(cert.get());
  return public_key != nullptr && EVP_PKEY_eq(public_key, key.get()) == 1;
}

// --- CertificateAuthority

// Decoding a PEM key takes OpenSSL 3's decoder machinery a good fraction of a
// millisecond; a controller issuing a certificate per new server decodes once. Signing
// with one EVP_PKEY from several threads is safe (the key is only read).
struct CertificateAuthority::Parsed {
  Ptr<X509> cert;
  Ptr<EVP_PKEY> key;
};

Result<CertificateAuthority> CertificateAuthority::create(const std::string& common_name,
                                                          std::int64_t validity_seconds) {
  ErrorMark mark;
  PW_TRY(check_names(Names{common_name, {}, {}, {}}, "ca"));
  PW_TRY(check_validity(validity_seconds, "ca"));
  PW_TRY_ASSIGN(std::string key_pem, generate_private_key_pem());
  PW_TRY_ASSIGN(Ptr<EVP_PKEY> key, parse_private_key(key_pem, "ca private key"));
  std::int64_t now = now_unix();
  PW_TRY_ASSIGN(Ptr<X509> cert, new_certificate(common_name, nullptr, key.get(), nullptr, now,
                                                now + validity_seconds));
  PW_TRY(finish_certificate(cert.get(), cert.get(), key.get(), {},
                            {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                             {NID_key_usage, "critical,keyCertSign,cRLSign"},
                             {NID_subject_key_identifier, "hash"}}));
  PW_TRY_ASSIGN(std::string cert_pem, pem_text(cert.get(), PEM_write_bio_X509, "ca certificate"));
  auto parsed = std::make_shared<Parsed>(Parsed{std::move(cert), std::move(key)});
  return CertificateAuthority(std::move(cert_pem), std::move(key_pem), std::move(parsed));
}

Result<CertificateAuthority> CertificateAuthority::load(std::string_view cert_pem,
                                                        std::string_view key_pem) {
  ErrorMark mark;
  PW_TRY_ASSIGN(Ptr<X509> cert, parse_certificate(cert_pem, "ca certificate"));
  PW_TRY_ASSIGN(Ptr<EVP_PKEY> key, parse_private_key(key_pem, "ca private key"));
  PW_TRY(check_key(key.get(), "ca private key", false));
  if (X509_check_ca(cert.get()) != 1) {
    return fail(Errc::invalid_argument, "ca certificate",
                "not a CA (needs basicConstraints CA:TRUE and keyUsage keyCertSign)");
  }
  EVP_PKEY* public_key = X509_get0_pubkey(cert.get());
  if (public_key == nullptr || EVP_PKEY_eq(public_key, key.get()) != 1) {
    return fail(Errc::mismatch, "ca private key", "does not match the CA certificate");
  }
  PW_TRY_ASSIGN(std::string cert_text, pem_text(cert.get(), PEM_write_bio_X509, "ca certificate"));
  PW_TRY_ASSIGN(std::string key_text, pem_text(key.get(), write_private_key, "private key"));
  auto parsed = std::make_shared<Parsed>(Parsed{std::move(cert), std::move(key)});
  return CertificateAuthority(std::move(cert_text), std::move(key_text), std::move(parsed));
}

Result<std::string> CertificateAuthority::issue(std::string_view csr_pem,
                                                const IssueOptions& options) const {
  ErrorMark mark;
  PW_TRY(check_names(options.names, "issue"));
  PW_TRY(check_validity(options.validity_seconds, "issue"));
  if (!options.server_auth && !options.client_auth) {
    return fail(Errc::invalid_argument, "issue", "neither server_auth nor client_auth is set");
  }
  PW_TRY_ASSIGN(Ptr<X509_REQ> req, parse_csr(csr_pem));
  X509* ca = parsed_->cert.get();
  EVP_PKEY* ca_key = parsed_->key.get();
  std::int64_t now = now_unix();
  PW_TRY_ASSIGN(std::int64_t ca_end, unix_time(X509_get0_notAfter(ca), "ca certificate"));
  if (ca_end <= now) return fail(Errc::expired, "ca certificate", "expired; it cannot issue");
  PW_TRY_ASSIGN(Ptr<X509> cert,
                new_certificate(options.names.common_name, X509_get_subject_name(ca), nullptr,
                                X509_REQ_get_X509_PUBKEY(req.get()), now,
                                std::min(now + options.validity_seconds, ca_end)));
  const char* eku = !options.client_auth   ? "serverAuth"
                    : !options.server_auth ? "clientAuth"
                                           : "serverAuth,clientAuth";
  PW_TRY(finish_certificate(cert.get(), ca, ca_key, options.names,
                            {{NID_basic_constraints, "critical,CA:FALSE"},
                             {NID_key_usage, "critical,digitalSignature"},
                             {NID_ext_key_usage, eku},
                             {NID_subject_key_identifier, "hash"},
                             {NID_authority_key_identifier, "keyid,issuer"}}));
  PW_TRY_ASSIGN(std::string pem, pem_text(cert.get(), PEM_write_bio_X509, "certificate"));
  // Its holder will show it on every connection (an agent's download, right after it
  // enrolled): read_certificate knows it from here instead of decoding it again.
  if (auto info = describe(cert.get()); info.ok()) cert_cache().add(pem, *info);
  return pem;
}

}  // namespace pw::crypto::x509
