#include "common/net/tls_context.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace pw::net {

std::string openssl_errors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text;
}

namespace {

Status load_ca(SSL_CTX* context, const std::string& ca) {
  if (ca.empty()) return make_error(Errc::invalid_argument, "no CA certificate file given");
  if (SSL_CTX_load_verify_locations(context, ca.c_str(), nullptr) != 1) {
    return make_error(Errc::parse,
                      ca + ": not a readable PEM CA certificate (" + openssl_errors() + ")");
  }
  return Ok{};
}

Status load_identity(SSL_CTX* context, const TlsFiles& tls) {
  if (SSL_CTX_use_certificate_chain_file(context, tls.certificate.c_str()) != 1) {
    return make_error(Errc::parse, tls.certificate + ": not a readable PEM certificate (" +
                                       openssl_errors() + ")");
  }
  if (SSL_CTX_use_PrivateKey_file(context, tls.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return make_error(Errc::parse, tls.private_key + ": not a readable PEM private key (" +
                                       openssl_errors() + ")");
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return make_error(Errc::mismatch,
                      tls.private_key + ": does not match the certificate " + tls.certificate);
  }
  return Ok{};
}

Status common_settings(SSL_CTX* context) {
  if (SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) != 1) {
    return make_error(Errc::crypto, "cannot require TLS 1.2: " + openssl_errors());
  }
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  return Ok{};
}

}  // namespace

Status configure_server_context(SSL_CTX* context, const TlsFiles& tls,
                                const std::vector<std::string>& allowed_names,
                                bool require_client_certificate) {
  PW_TRY(common_settings(context));
  PW_TRY(load_identity(context, tls));
  PW_TRY(load_ca(context, tls.ca));
  SSL_CTX_set_verify(
      context, SSL_VERIFY_PEER | (require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
      nullptr);
  // Names are checked as part of chain verification, so a wrong one fails the handshake.
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(context);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (std::size_t i = 0; i < allowed_names.size(); ++i) {
    int ok = i == 0 ? X509_VERIFY_PARAM_set1_host(param, allowed_names[i].c_str(), 0)
                    : X509_VERIFY_PARAM_add1_host(param, allowed_names[i].c_str(), 0);
    if (ok != 1) {
      return make_error(Errc::invalid_argument, "allowed client name '" + allowed_names[i] +
                                                    "' is not usable: " + openssl_errors());
    }
  }
  // Sessions are not resumed: every connection shows its certificate again.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(context, 0);
  return Ok{};
}

Status configure_client_context(SSL_CTX* context, const TlsFiles& tls) {
  PW_TRY(common_settings(context));
  PW_TRY(load_ca(context, tls.ca));
  if (!tls.certificate.empty()) PW_TRY(load_identity(context, tls));
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  return Ok{};
}

Status expect_server_name(SSL* connection, const std::string& host) {
  unsigned char address[16];
  bool is_ip = ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
               ::inet_pton(AF_INET6, host.c_str(), address) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(connection);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                 : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  if (ok != 1) return make_error(Errc::invalid_argument, "host '" + host + "' is not usable");
  // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
  if (!is_ip && SSL_ctrl(connection, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                         const_cast<char*>(host.c_str())) != 1) {
    return make_error(Errc::crypto, "cannot set SNI for " + host);
  }
  return Ok{};
}

}  // namespace pw::net
