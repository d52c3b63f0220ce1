// Dashboard sessions: a browser cannot easily present an operator's client certificate,
// so `patchwave login` (over mutual TLS, with that certificate) asks the controller for
// a short-lived token that carries the operator's name and role, bound to the
// certificate's fingerprint, signed by a key only the controller has (Ed25519,
// <state>/keys/ui-session). The browser exchanges it once for an HttpOnly cookie at
// /ui/login; `Authorization: Bearer` works too. A token never outlives the certificate
// it was issued for, and gives read-only access whatever the role (the dashboard cannot
// act). Deleting the key file and restarting the controller ends every session.
//
//   token = "pws1." hex(payload) "." hex(Ed25519 signature over
//           "patchwave-ui-session-v1\n" payload)
//   payload = {"sub": NAME, "role": ROLE, "cert": SHA256, "iat": S, "exp": S, "jti": HEX}
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/crypto/keys.hpp"
#include "common/errors/result.hpp"

namespace pw::dashboard {

inline constexpr const char* kSessionCookie = "pw_session";

struct Session {
  std::string operator_name;  // the certificate's common name
  std::string role;           // release-engineer | approver:REGION | viewer
  std::string certificate;    // sha256 fingerprint of the certificate it was issued for
  std::int64_t issued = 0;    // Unix seconds
  std::int64_t expires = 0;
  std::string id;  // random, for the audit log (the token itself is never logged)
};

class SessionKeys {
 public:
  // Loads the signing key from `path` (0600), or creates it there on the first start.
  static Result<SessionKeys> open(const std::string& path);
  explicit SessionKeys(crypto::PrivateKey key);

  // A token for `session` (its id is filled in when empty).
  Result<std::string> issue(Session& session) const;
  // The session a token carries: Errc::signature for a token this key did not sign or
  // that was altered, Errc::expired past its expiry, Errc::parse for anything else.
  Result<Session> verify(std::string_view token, std::int64_t now_seconds) const;

 private:
  std::shared_ptr<const crypto::PrivateKey> key_;
  std::shared_ptr<const crypto::PublicKey> public_key_;
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string cookie_value(std::string_view header, std::string_view name);
// The value of `name` in application/x-www-form-urlencoded text or a URL query, decoded.
std::string form_value(std::string_view text, std::string_view name);

}  // namespace pw::dashboard
