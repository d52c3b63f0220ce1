#include "orchestrator/ca/ca.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/crypto/hash.hpp"
#include "common/crypto/secret_file.hpp"

namespace pw::ca {
namespace x509 = crypto::x509;
using namespace std::chrono_literals;

namespace {

constexpr std::chrono::seconds kCaValidity = 10 * 365 * 24h;
constexpr std::chrono::seconds kAgentValidity = 30 * 24h;
constexpr std::chrono::seconds kControllerValidity = 365 * 24h;

std::string rfc3339(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<Credential> issue_with_new_key(const x509::CertificateAuthority& authority,
                                      const x509::IssueOptions& options) {
  Credential credential;
  PW_TRY_ASSIGN(credential.private_key_pem, x509::generate_private_key_pem());
  PW_TRY_ASSIGN(std::string csr, x509::make_csr(credential.private_key_pem, options.names));
  PW_TRY_ASSIGN(credential.certificate_pem, authority.issue(csr, options));
  return credential;
}

bool valid_server_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") == std::string::npos;
}

}  // namespace

Status check_role(const std::string& role) {
  if (role == "release-engineer" || role == "viewer") return Ok{};
  const std::string approver = "approver:";
  if (role.rfind(approver, 0) == 0 && valid_server_name(role.substr(approver.size()))) {
    return Ok{};
  }
  return make_error(Errc::invalid_argument,
                    "role '" + role + "': must be release-engineer, approver:REGION or viewer");
}

Result<std::string> role_of(const x509::CertInfo& certificate) {
  for (const auto& uri : certificate.names.uris) {
    if (uri.rfind(kRoleUriPrefix, 0) == 0) {
      std::string role = uri.substr(std::string(kRoleUriPrefix).size());
      PW_TRY(check_role(role));
      return role;
    }
  }
  return make_error(Errc::permission,
                    "the certificate of '" + certificate.names.common_name + "' carries no role");
}

Result<ControllerCa> ControllerCa::init(const std::string& dir, const std::string& common_name) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, "cannot create " + dir + ": " + ec.message());
  struct stat info {};
  if (::stat((dir + "/ca.pem").c_str(), &info) == 0 ||
      ::stat((dir + "/ca.key").c_str(), &info) == 0) {
    return make_error(Errc::conflict, dir + ": a CA exists already; refusing to replace it");
  }
  PW_TRY_ASSIGN(auto authority,
                x509::CertificateAuthority::create(common_name, kCaValidity.count()));
  PW_TRY(crypto::write_secret_file(dir + "/ca.key", authority.private_key_pem()));
  std::ofstream out(dir + "/ca.pem", std::ios::binary);
  out << authority.certificate_pem();
  out.close();
  if (!out) return make_error(Errc::io, dir + "/ca.pem: cannot write");
  return ControllerCa(dir, std::move(authority));
}

Result<ControllerCa> ControllerCa::load(const std::string& dir) {
  PW_TRY_ASSIGN(std::string cert, read_text(dir + "/ca.pem"));
  PW_TRY_ASSIGN(std::string key, crypto::read_secret_file(dir + "/ca.key", 64u << 10));
  auto authority = x509::CertificateAuthority::load(cert, key);
  if (!authority.ok()) return std::move(authority).error().with_context(dir);
  return ControllerCa(dir, std::move(*authority));
}

Result<Credential> ControllerCa::issue_controller(const std::string& name,
                                                  const std::vector<std::string>& dns,
                                                  const std::vector<std::string>& ips) const {
  x509::IssueOptions options;
  options.names = {name, dns, ips, {}};
  if (std::find(dns.begin(), dns.end(), name) == dns.end())
    options.names.dns.insert(options.names.dns.begin(), name);
  options.validity_seconds = kControllerValidity.count();
  return issue_with_new_key(authority_, options);
}

Result<Credential> ControllerCa::issue_operator(const std::string& name, const std::string& role,
                                                std::chrono::seconds validity) const {
  PW_TRY(check_role(role));
  x509::IssueOptions options;
  options.names = {name, {}, {}, {std::string(kRoleUriPrefix) + role}};
  options.validity_seconds = validity.count();
  options.server_auth = false;
  options.client_auth = true;
  return issue_with_new_key(authority_, options);
}

Result<std::string> ControllerCa::issue_agent(const std::string& csr_pem, const std::string& server,
                                              const std::vector<std::string>& ips) const {
  x509::IssueOptions options;
  options.names = {server, {server}, ips, {}};
  options.validity_seconds = kAgentValidity.count();
  return authority_.issue(csr_pem, options);
}

Enrollment::Enrollment(store::Store& store, const ControllerCa& ca, Clock clock)
    : store_(&store), ca_(&ca), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

Result<std::string> Enrollment::create_token(const std::string& server, std::chrono::seconds ttl,
                                             const std::string& actor) {
  std::string token;
  Status done = store_->db().transaction([&]() -> Status {
    PW_TRY_ASSIGN(token, create_token_in_transaction(server, ttl, actor));
    return Ok{};
  });
  PW_TRY(done);
  return token;
}

Result<std::string> Enrollment::create_token_in_transaction(const std::string& server,
                                                            std::chrono::seconds ttl,
                                                            const std::string& actor) {
  if (!valid_server_name(server)) {
    return make_error(Errc::invalid_argument, "server name '" + server + "' is not valid");
  }
  PW_TRY_ASSIGN(std::string token, crypto::random_hex(32));
  std::string expires = rfc3339(clock_() + ttl);
  PW_TRY_ASSIGN(store::Statement insert,
                store_->db().prepare("INSERT INTO enrollment_tokens (token_sha256, server, "
                                     "expires_at) VALUES (?1, ?2, ?3)"));
  insert.bind(1, crypto::sha256_hex(token)).bind(2, server).bind(3, expires);
  PW_TRY(insert.run());
  PW_TRY(store_->audit().append_in_transaction(
      {actor, "enrollment.token", {{"server", server}, {"expires_at", expires}}, "issued"}));
  return token;
}

Result<std::string> Enrollment::enroll(const std::string& server, const std::string& token,
                                       const std::string& csr_pem,
                                       const std::vector<std::string>& ips, const Also& also) {
  std::string refusal;  // why, for the audit log only
  std::string certificate;
  auto status = store_->db().transaction([&]() -> Status {
    PW_TRY_ASSIGN(store::Statement query,
                  store_->db().prepare("SELECT server, expires_at, used_at FROM enrollment_tokens "
                                       "WHERE token_sha256 = ?1"));
    query.bind(1, crypto::sha256_hex(token));
    PW_TRY_ASSIGN(bool found, query.step());
    if (!found) {
      refusal = "unknown token";
    } else if (query.text(0) != server) {
      refusal = "token bound to another server (" + query.text(0) + ")";
    } else if (!query.is_null(2)) {
      refusal = "token already used at " + query.text(2);
    } else if (query.text(1) <= rfc3339(clock_())) {
      refusal = "token expired at " + query.text(1);
    }
    if (!refusal.empty()) return Ok{};
    auto issued = ca_->issue_agent(csr_pem, server, ips);
    if (!issued.ok()) {
      refusal = "bad certificate request: " + issued.error().to_string();
      return Ok{};
    }
    certificate = std::move(*issued);
    PW_TRY_ASSIGN(store::Statement use,
                  store_->db().prepare("UPDATE enrollment_tokens SET used_at = ?1 WHERE "
                                       "token_sha256 = ?2 AND used_at IS NULL"));
    use.bind(1, rfc3339(clock_())).bind(2, crypto::sha256_hex(token));
    PW_TRY(use.run());
    // The token's use and its event in one commit.
    PW_TRY_ASSIGN(std::string fingerprint, x509::certificate_sha256(certificate));
    auto appended = store_->audit().append_in_transaction(
        {"agent:" + server,
         "enroll",
         {{"server", server}, {"certificate_sha256", fingerprint}},
         "ok"});
    if (!appended.ok()) return std::move(appended).error();
    return also ? also(fingerprint) : Status(Ok{});
  });
  if (!status.ok()) return std::move(status).error().with_context("enrolling " + server);
  if (!refusal.empty()) {
    PW_TRY(store_->audit().append(
        {"agent:" + server, "enroll", {{"server", server}}, "refused: " + refusal}));
    if (refusal.rfind("bad certificate request", 0) == 0) {
      return make_error(Errc::invalid_argument, refusal);
    }
    return make_error(Errc::permission, "enrollment refused: the token is not valid for " + server);
  }
  return certificate;
}

Result<std::int64_t> Enrollment::revoke(const std::string& server) {
  PW_TRY_ASSIGN(store::Statement open,
                store_->db().prepare("SELECT count(*) FROM enrollment_tokens WHERE server = ?1 "
                                     "AND used_at IS NULL"));
  open.bind(1, server);
  PW_TRY(open.step());
  std::int64_t count = open.integer(0);
  if (count == 0) return count;
  PW_TRY_ASSIGN(store::Statement drop,
                store_->db().prepare("DELETE FROM enrollment_tokens WHERE server = ?1 AND "
                                     "used_at IS NULL"));
  drop.bind(1, server);
  PW_TRY(drop.run());
  return count;
}

}  // namespace pw::ca
