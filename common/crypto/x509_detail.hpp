// Internal to common/crypto: what x509.cpp and x509_names.cpp share. OpenSSL handles
// that free themselves, error texts, and the certificate names (subject and
// subjectAltName) written and read.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/crypto/x509.hpp"

namespace pw::crypto::x509::detail {

// --- RAII for OpenSSL handles: Ptr<T> frees with T's free function

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(GENERAL_NAME* p) const { GENERAL_NAME_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }  // also ASN1_INTEGER
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ASN1_OBJECT* p) const { ASN1_OBJECT_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
  void operator()(STACK_OF(X509_EXTENSION) * p) const {
    sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free);  // owns its extensions
  }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

// Discards, on scope exit, whatever OpenSSL queued since construction (see keys.cpp).
struct ErrorMark {
  ErrorMark() { ERR_set_mark(); }
  ~ErrorMark() { ERR_pop_to_mark(); }
};

// "<what>: <message>"
inline Error fail(Errc code, std::string_view what, const std::string& message) {
  return make_error(code, std::string(what) + ": " + message);
}

// "<what>: <message> (<OpenSSL's last reason>)"
inline Error openssl_error(Errc code, std::string_view what, const std::string& message) {
  Error error = fail(code, what, message);
  if (unsigned long last = ERR_peek_last_error(); last != 0) {
    std::array<char, 256> buffer{};
    ERR_error_string_n(last, buffer.data(), buffer.size());
    error.message += std::string(" (") + buffer.data() + ")";
  }
  return error;
}

// Ok, or openssl_error(...) when `ok` is false.
inline Status require(bool ok, Errc code, std::string_view what, const std::string& message) {
  return ok ? Status(Ok{}) : Status(openssl_error(code, what, message));
}

// --- Names (x509_names.cpp)

Status check_names(const Names& names, std::string_view what);
// A subject of one common name (OpenSSL enforces its 64-character bound).
Result<Ptr<X509_NAME>> subject_name(const std::string& common_name, std::string_view what);
// The subjectAltName of `names` (which passed check_names), or null if it has none.
Result<Ptr<GENERAL_NAMES>> alt_names(const Names& names);
Result<std::string> common_name_of(const X509_NAME* name, std::string_view what);
// Names from a subject and a subjectAltName as X509(V3)_get_(ext_)d2i decodes it (passing
// ownership, and reporting -1 for absent, -2 for repeated extensions in `crit`).
Result<Names> read_names(const X509_NAME* subject, void* san, int crit, std::string_view what);

}  // namespace pw::crypto::x509::detail
