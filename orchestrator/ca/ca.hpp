// The controller's certificate authority: it issues the controller's own TLS identity,
// operator client certificates that carry a role, and agent certificates at enrollment
// against one-time tokens. The CA key lives in <dir>/ca.key (0600) and never leaves it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/crypto/x509.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::ca {

// Operator roles, carried in the certificate as the URI name "urn:patchwave:role:<role>".
//   release-engineer | approver:<region> | viewer
inline constexpr const char* kRoleUriPrefix = "urn:patchwave:role:";
Status check_role(const std::string& role);
// The role a certificate carries; Errc::permission when it carries none.
Result<std::string> role_of(const crypto::x509::CertInfo& certificate);

struct Credential {
  std::string private_key_pem;
  std::string certificate_pem;
};

class ControllerCa {
 public:
  // Creates <dir>/ca.pem and <dir>/ca.key; Errc::conflict if a CA is already there.
  static Result<ControllerCa> init(const std::string& dir, const std::string& common_name);
  static Result<ControllerCa> load(const std::string& dir);

  const std::string& certificate_pem() const { return authority_.certificate_pem(); }
  std::string certificate_file() const { return dir_ + "/ca.pem"; }

  // The controller's TLS identity (server and client auth): CN and DNS `name`.
  Result<Credential> issue_controller(const std::string& name, const std::vector<std::string>& dns,
                                      const std::vector<std::string>& ips) const;
  // An operator's client certificate with its role.
  Result<Credential> issue_operator(const std::string& name, const std::string& role,
                                    std::chrono::seconds validity) const;
  // Signs an agent's CSR for `server` (CN and DNS = server, IPs given by the provider).
  Result<std::string> issue_agent(const std::string& csr_pem, const std::string& server,
                                  const std::vector<std::string>& ips) const;

 private:
  ControllerCa(std::string dir, crypto::x509::CertificateAuthority authority)
      : dir_(std::move(dir)), authority_(std::move(authority)) {}
  std::string dir_;
  crypto::x509::CertificateAuthority authority_;
};

// One-time enrollment tokens, bound to a server name, with an expiry. Only their sha256
// is stored. Every issue, use and refusal is an audit event (never the token itself).
class Enrollment {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  Enrollment(store::Store& store, const ControllerCa& ca, Clock clock = {});

  // The token and its audit event in one transaction.
  Result<std::string> create_token(const std::string& server, std::chrono::seconds ttl,
                                   const std::string& actor);
  // The same inside the caller's write transaction (provisioning a region's servers
  // records all their tokens in one commit).
  Result<std::string> create_token_in_transaction(const std::string& server,
                                                  std::chrono::seconds ttl,
                                                  const std::string& actor);
  // Errc::permission for an unknown, used, expired or other server's token (the same
  // answer for all four, so a caller learns nothing); the certificate otherwise.
  // `also` (when set) runs in the same transaction once the certificate is issued, with
  // its sha256: the controller records the server as enrolled in the same commit.
  using Also = std::function<Status(const std::string& certificate_sha256)>;
  Result<std::string> enroll(const std::string& server, const std::string& token,
                             const std::string& csr_pem, const std::vector<std::string>& ips,
                             const Also& also = {});
  // Every unused token of `server` stops working (it is being decommissioned: an
  // enrollment still on its way must not bring it back). Returns how many there were.
  Result<std::int64_t> revoke(const std::string& server);

 private:
  store::Store* store_;
  const ControllerCa* ca_;
  Clock clock_;
};

}  // namespace pw::ca
