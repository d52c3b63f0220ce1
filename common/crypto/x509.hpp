// X.509 for agent enrollment over mutual TLS: an agent makes a key and a CSR, the
// controller's CA verifies the CSR and signs a certificate for the CSR's key with the
// names the controller decides. OpenSSL 3 EVP/X509 underneath.
//
// Everything is PEM text in and out. Keys are PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted.
// Accepted key types: ECDSA P-256 (named curve) and Ed25519; a CSR may also carry an RSA
// key of at least 2048 bits. Signatures use SHA-256 (Ed25519: PureEdDSA).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::crypto::x509 {

// The names in a certificate or CSR: the subject's common name and the
// subjectAltName DNS names, IP addresses (IPv4 dotted quad or IPv6 text, as
// inet_ntop writes them) and URIs.
struct Names {
  std::string common_name;
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  // URI names; Patchwave carries an operator's role as "urn:patchwave:role:<role>".
  std::vector<std::string> uris = {};
};

// A new ECDSA P-256 private key as PKCS#8 PEM.
Result<std::string> generate_private_key_pem();

// A PEM CSR for the key, signed by it (SHA-256), with `names` as the subject's common
// name and a requested subjectAltName extension (when there are DNS names or IPs).
// An empty common name or an invalid DNS name or IP text is Errc::invalid_argument.
Result<std::string> make_csr(std::string_view key_pem, const Names& names);

struct CsrInfo {
  Names names;
  std::string public_key_sha256;  // hex sha256 of the DER SubjectPublicKeyInfo
};

// Parses a PEM CSR (at most 16 KiB) and verifies its self-signature (Errc::signature);
// refuses keys other than EC P-256, Ed25519 and RSA >= 2048 bits (Errc::unsupported).
Result<CsrInfo> read_csr(std::string_view csr_pem);

struct CertInfo {
  Names names;
  std::string issuer_common_name;
  std::string serial_hex;  // lowercase hex of the serial's bytes (as `openssl x509 -serial`)
  std::int64_t not_before = 0, not_after = 0;  // unix seconds
  std::string sha256_fingerprint;              // hex sha256 of the DER certificate
  bool is_ca = false;                          // basicConstraints CA:TRUE
  std::string public_key_sha256;               // hex sha256 of the DER SubjectPublicKeyInfo
};

// Reads the first certificate of a PEM text (at most 64 KiB; nothing is verified).
// Remembers the last 256 texts it read (process-wide), which it then answers at once.
Result<CertInfo> read_certificate(std::string_view cert_pem);
// CertInfo::sha256_fingerprint of the first PEM block, which must be a CERTIFICATE,
// without decoding the certificate (only its base64).
Result<std::string> certificate_sha256(std::string_view cert_pem);

struct IssueOptions {
  Names names;
  std::int64_t validity_seconds = 30LL * 24 * 3600;
  bool server_auth = true;  // extendedKeyUsage serverAuth
  bool client_auth = true;  // extendedKeyUsage clientAuth (at least one of the two)
};

class CertificateAuthority {
 public:
  // A new P-256 key and a self-signed CA certificate: basicConstraints critical
  // CA:TRUE pathlen:0, keyUsage critical keyCertSign|cRLSign, subjectKeyIdentifier.
  static Result<CertificateAuthority> create(const std::string& common_name,
                                             std::int64_t validity_seconds);
  // Loads a CA: the certificate must be a CA (basicConstraints CA:TRUE, and keyCertSign
  // if it has a keyUsage; Errc::invalid_argument otherwise), the key a P-256 or Ed25519
  // key, and the certificate's key (Errc::mismatch otherwise).
  static Result<CertificateAuthority> load(std::string_view cert_pem, std::string_view key_pem);

  const std::string& certificate_pem() const { return cert_pem_; }
  const std::string& private_key_pem() const { return key_pem_; }

  // Verifies the CSR (read_csr) and signs a certificate for its public key with the
  // names in `options`, NOT the names the CSR asks for: the issuer decides. Random
  // positive 128-bit serial (16 bytes, 126 random bits), notBefore = now - 60 s,
  // notAfter = now + validity (never past the CA's own notAfter), basicConstraints
  // CA:FALSE, keyUsage digitalSignature, extendedKeyUsage per options, subjectAltName
  // (DNS + IP), subject and authority key identifiers.
  Result<std::string> issue(std::string_view csr_pem, const IssueOptions& options) const;

 private:
  struct Parsed;  // the certificate and key, decoded once (x509.cpp)
  CertificateAuthority(std::string cert_pem, std::string key_pem,
                       std::shared_ptr<const Parsed> parsed)
      : cert_pem_(std::move(cert_pem)), key_pem_(std::move(key_pem)), parsed_(std::move(parsed)) {}
  std::string cert_pem_;
  std::string key_pem_;
  std::shared_ptr<const Parsed> parsed_;
};

// Checks that the first certificate of cert_pem chains to a certificate of ca_pem (one
// CA or a bundle of them; X509_verify_cert at `now_unix`, 0 = now). Errc::signature with
// OpenSSL's reason otherwise ("certificate: does not verify against the CA: ...").
Status verify_certificate(std::string_view cert_pem, std::string_view ca_pem,
                          std::int64_t now_unix = 0);

// Whether the private key is the one whose public key the certificate holds.
Result<bool> key_matches_certificate(std::string_view key_pem, std::string_view cert_pem);

}  // namespace pw::crypto::x509
