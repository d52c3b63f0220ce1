// The operator dashboard and `/metrics`, served by the controller next to its API
// (docs/DASHBOARD.md):
//
//   GET  /ui/ (index.html, app.js, style.css)   the page: hand-written, embedded in the
//                                               binary; it polls the views every second
//   GET  /ui/api/summary|rollouts|rollouts/{id}|approvals|servers|releases|audit
//                                               the JSON views (ui/views.hpp)
//   GET  /ui/login[?token=T], POST /ui/login    a session token -> an HttpOnly cookie
//   GET  /ui/logout                             clears it
//   POST /v1/session {ttl_seconds?}             a certificate's operator gets a session
//                                               token (`patchwave login`)
//   GET  /metrics                               Prometheus text; a client certificate
//                                               with any operator role (viewer is enough)
//
// Who may look: an operator with a client certificate from the controller's CA that
// carries a role (as for the API), or with a session token issued for one (cookie or
// `Authorization: Bearer`). Without either, pages redirect to /ui/login and everything
// else is 401. The dashboard is read-only for every role: any other method than GET on
// /ui/ is refused with 403 and audited (`ui.refused`). A session never reaches /v1/:
// the API takes certificates only, so a cookie cannot act on anyone's behalf.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "common/json/json.hpp"
#include "common/net/http.hpp"
#include "orchestrator/controller/ui/history.hpp"
#include "orchestrator/controller/ui/session.hpp"

namespace pw::controller {

struct Operator {
  std::string name;
  std::string role;
  std::string certificate;  // sha256 fingerprint
  std::int64_t not_after = 0;
  std::string via;  // "certificate" or "session"
  std::int64_t session_expires = 0;
};

// The operator a request comes from by its client certificate: one from the CA that
// carries a role (an agent's certificate has none).
std::optional<Operator> certificate_operator(const net::Request& request);

class Dashboard {
 public:
  // A GET on the operator API (`target`: path and query) answered as for `who`.
  using ApiGet = std::function<net::Response(const std::string& target, const Operator& who)>;
  using Audit = std::function<void(const std::string& actor, const std::string& action,
                                   const json::Value& inputs, const std::string& outcome)>;

  Dashboard(std::string controller_name, dashboard::SessionKeys keys, ApiGet api, Audit audit);

  // The paths it serves: /ui and below, /metrics, /v1/session.
  static bool owns(const std::string& path);
  net::Response handle(const net::Request& request);

  // An API answer of 403 to an operator's request that would have changed something
  // is audited (`api.refused`), as the dashboard's refusals are.
  void audit_api_refusal(const net::Request& request, const net::Response& response);

 private:
  std::optional<Operator> session_operator(const net::Request& request, std::string* problem);
  net::Response login(const net::Request& request);
  net::Response issue_session(const net::Request& request);
  net::Response metrics(const Operator& who);
  net::Response view(const std::string& path, const std::string& query, const Operator& who);
  // GET on the API, parsed; null (and `status` set) when it did not answer 200.
  json::Value get(const std::string& target, const Operator& who, int* status = nullptr);
  json::Value policy(const Operator& who);
  json::Value chain(const Operator& who);
  void catch_up(const Operator& who);  // history_ with the audit events not read yet

  std::string name_;
  dashboard::SessionKeys keys_;
  ApiGet api_;
  Audit audit_;
  std::mutex history_mutex_;
  dashboard::History history_;
  std::mutex chain_mutex_;
  json::Value chain_;
  std::chrono::steady_clock::time_point chain_checked_{};
};

}  // namespace pw::controller
