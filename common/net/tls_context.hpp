// OpenSSL settings shared by the HTTPS server and client (no Asio here): TLS 1.2 or
// newer, certificates from PEM files, peers verified against one CA.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "common/errors/result.hpp"
#include "common/net/http.hpp"

namespace pw::net {

// Server side: our certificate and key, and client certificates required, chained to
// tls.ca and (when allowed_names is not empty) naming one of allowed_names.
Status configure_server_context(SSL_CTX* context, const TlsFiles& tls,
                                const std::vector<std::string>& allowed_names,
                                bool require_client_certificate = true);

// Client side: servers verified against tls.ca; our certificate presented when given.
Status configure_client_context(SSL_CTX* context, const TlsFiles& tls);

// Per connection: the server must be `host` (a DNS name, or an IP address matched
// against the certificate's IP SANs); sets SNI for DNS names.
Status expect_server_name(SSL* connection, const std::string& host);

// OpenSSL's error queue as text, emptying it.
std::string openssl_errors();

}  // namespace pw::net
