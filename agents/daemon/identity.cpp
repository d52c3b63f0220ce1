#include "agents/daemon/identity.hpp"

#include <ctime>

#include "agents/daemon/files.hpp"
#include "common/crypto/secret_file.hpp"
#include "common/crypto/x509.hpp"
#include "common/json/json.hpp"
#include "common/log/log.hpp"
#include "common/net/http.hpp"

namespace pw::agent {
namespace x509 = crypto::x509;

namespace {

constexpr std::size_t kPemLimit = 64u << 10;

Result<std::string> enrollment_token(const AgentConfig& config) {
  if (!config.enrollment_token.empty()) return config.enrollment_token;
  if (config.enrollment_token_file.empty()) {
    return make_error(Errc::not_found,
                      "this agent is not enrolled and has no enrollment token "
                      "(enrollment_token or enrollment_token_file)");
  }
  PW_TRY_ASSIGN(std::string token, crypto::read_secret_file(config.enrollment_token_file, 4096));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) {
    return make_error(Errc::invalid_argument, config.enrollment_token_file + ": empty token");
  }
  return token;
}

// The certificate must chain to the controller's CA, name this agent and hold our key.
Result<x509::CertInfo> check_certificate(const AgentConfig& config, const std::string& cert_pem,
                                         const std::string& key_pem, const std::string& ca_pem) {
  PW_TRY_ASSIGN(x509::CertInfo info, x509::read_certificate(cert_pem));
  PW_TRY(x509::verify_certificate(cert_pem, ca_pem));
  if (info.names.common_name != config.name) {
    return make_error(Errc::mismatch, "the certificate names '" + info.names.common_name +
                                          "', not this agent ('" + config.name + "')");
  }
  PW_TRY_ASSIGN(bool matches, x509::key_matches_certificate(key_pem, cert_pem));
  if (!matches) return make_error(Errc::mismatch, "the certificate is not for this agent's key");
  return info;
}

Result<std::string> enroll(const AgentConfig& config, const std::string& key_pem) {
  PW_TRY_ASSIGN(std::string token, enrollment_token(config));
  PW_TRY_ASSIGN(std::string csr, x509::make_csr(key_pem, {config.name, config.certificate_dns,
                                                          config.certificate_ips}));
  json::Value body = {{"name", config.name}, {"token", token}, {"csr", csr}};
  net::Client client(net::TlsFiles{config.controller_ca, "", ""},
                     std::chrono::milliseconds(config.network_timeout_ms));
  std::string url = config.controller_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/v1/enroll";
  PW_TRY_ASSIGN(auto response, client.request("POST", url, body.dump(), "application/json"));
  if (response.status != 200) {
    std::string reason;
    if (auto parsed = json::parse(response.body);
        parsed.ok() && parsed->is_object() && parsed->contains("error")) {
      reason = ": " + (*parsed)["error"].value("message", std::string());
    }
    return make_error(Errc::permission, "the controller refused enrollment (HTTP " +
                                            std::to_string(response.status) + ")" + reason);
  }
  auto parsed = json::parse(response.body);
  if (!parsed.ok() || !parsed->is_object() || !parsed->contains("certificate") ||
      !(*parsed)["certificate"].is_string()) {
    return make_error(Errc::parse, "enrollment answer: expected {\"certificate\": PEM}");
  }
  return (*parsed)["certificate"].get<std::string>();
}

}  // namespace

Result<Identity> ensure_identity(const AgentConfig& config) {
  std::string dir = config.state_dir + "/tls";
  PW_TRY(ensure_private_dir(config.state_dir));
  PW_TRY(ensure_private_dir(dir));
  Identity identity;
  identity.key_file = dir + "/agent.key";
  identity.certificate_file = dir + "/agent.crt";
  PW_TRY_ASSIGN(std::string ca_pem, read_file_limited(config.controller_ca, kPemLimit));

  std::string key_pem;
  auto existing_key = crypto::read_secret_file(identity.key_file, kPemLimit);
  if (existing_key.ok()) {
    key_pem = std::move(*existing_key);
  } else if (existing_key.error().code == Errc::not_found) {
    PW_TRY_ASSIGN(key_pem, x509::generate_private_key_pem());
    PW_TRY(crypto::write_secret_file(identity.key_file, key_pem));
    log::info("key_created", {{"path", identity.key_file}});
  } else {
    return std::move(existing_key).error();
  }

  auto existing_cert = read_file_limited(identity.certificate_file, kPemLimit);
  std::string cert_pem;
  if (existing_cert.ok()) {
    cert_pem = std::move(*existing_cert);
    auto checked = check_certificate(config, cert_pem, key_pem, ca_pem);
    if (!checked.ok()) return std::move(checked).error().with_context(identity.certificate_file);
  } else if (existing_cert.error().code == Errc::not_found) {
    auto enrolled = enroll(config, key_pem);
    if (!enrolled.ok()) return std::move(enrolled).error().with_context("enrolling");
    cert_pem = std::move(*enrolled);
    auto checked = check_certificate(config, cert_pem, key_pem, ca_pem);
    if (!checked.ok()) {
      return std::move(checked).error().with_context("the enrollment answer's certificate");
    }
    PW_TRY(write_file_atomic(identity.certificate_file, cert_pem, 0644));
    identity.enrolled_now = true;
  } else {
    return std::move(existing_cert).error();
  }
  PW_TRY_ASSIGN(x509::CertInfo info, x509::read_certificate(cert_pem));
  identity.common_name = info.names.common_name;
  identity.fingerprint = info.sha256_fingerprint;
  identity.not_after = info.not_after;
  if (info.not_after < static_cast<std::int64_t>(std::time(nullptr))) {
    return make_error(Errc::expired, identity.certificate_file +
                                         ": the agent's certificate has expired; remove it and "
                                         "enroll again with a new token");
  }
  return identity;
}

}  // namespace pw::agent
