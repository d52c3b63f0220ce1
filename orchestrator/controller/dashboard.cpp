#include "orchestrator/controller/dashboard.hpp"

#include <algorithm>
#include <ctime>

#include "common/crypto/x509.hpp"
#include "orchestrator/ca/ca.hpp"
#include "orchestrator/controller/replies.hpp"
#include "orchestrator/controller/ui/assets.hpp"
#include "orchestrator/controller/ui/metrics.hpp"
#include "orchestrator/controller/ui/views.hpp"

namespace pw::controller {
namespace {

constexpr std::int64_t kDefaultSessionSeconds = 8 * 3600;
constexpr std::int64_t kMaxSessionSeconds = 24 * 3600;

dashboard::Millis now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t now_seconds() { return now_ms() / 1000; }

std::string rfc3339(std::int64_t seconds) {
  auto t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::pair<std::string, std::string> split(const std::string& target) {
  auto mark = target.find('?');
  if (mark == std::string::npos) return {target, ""};
  return {target.substr(0, mark), target.substr(mark + 1)};
}

// What every answer of the dashboard carries: no framing, no sniffing, no referrer, no
// caching, and a policy that lets the page load only its own files and talk only to
// the controller (the page builds its DOM with textContent, never from HTML strings).
net::Response secured(net::Response response) {
  response.headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
      "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

net::Response json_reply(int status, const json::Value& body) {
  return secured(reply(status, body));
}

net::Response refuse(int status, const std::string& message) {
  return secured(error_reply(status, "permission", message));
}

net::Response redirect(const std::string& location) {
  net::Response response{303, "text/plain; charset=utf-8", "see " + location + "\n", {}};
  response.headers.emplace_back("Location", location);
  return secured(std::move(response));
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

net::Response login_page(int status, const std::string& message) {
  const dashboard::Asset* page = dashboard::find_asset("login.html");
  std::string html(page->body);
  auto at = html.find("{{message}}");
  if (at != std::string::npos) html.replace(at, 11, html_escape(message));
  return secured(net::Response{status, std::string(page->content_type), html, {}});
}

bool plain_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

std::optional<Operator> certificate_operator(const net::Request& request) {
  if (request.peer_certificate.empty()) return std::nullopt;
  auto info = crypto::x509::read_certificate(request.peer_certificate);
  if (!info.ok()) return std::nullopt;
  auto role = ca::role_of(*info);
  if (!role.ok()) return std::nullopt;
  return Operator{info->names.common_name, *role,         info->sha256_fingerprint,
                  info->not_after,         "certificate", 0};
}

Dashboard::Dashboard(std::string controller_name, dashboard::SessionKeys keys, ApiGet api,
                     Audit audit)
    : name_(std::move(controller_name)),
      keys_(std::move(keys)),
      api_(std::move(api)),
      audit_(std::move(audit)) {}

bool Dashboard::owns(const std::string& path) {
  return path == "/ui" || path.rfind("/ui/", 0) == 0 || path == "/metrics" || path == "/v1/session";
}

std::optional<Operator> Dashboard::session_operator(const net::Request& request,
                                                    std::string* problem) {
  std::string token;
  auto cookie = request.headers.find("cookie");
  if (cookie != request.headers.end()) {
    token = dashboard::cookie_value(cookie->second, dashboard::kSessionCookie);
  }
  auto authorization = request.headers.find("authorization");
  if (token.empty() && authorization != request.headers.end() &&
      authorization->second.rfind("Bearer ", 0) == 0) {
    token = authorization->second.substr(7);
  }
  if (token.empty()) return std::nullopt;
  auto session = keys_.verify(token, now_seconds());
  if (!session.ok()) {
    *problem = session.error().message;
    return std::nullopt;
  }
  return Operator{session->operator_name, session->role, session->certificate,
                  session->expires,       "session",     session->expires};
}

net::Response Dashboard::handle(const net::Request& request) {
  auto [path, query] = split(request.target);
  if (path == "/v1/session") return issue_session(request);
  if (path == "/metrics") {
    auto who = certificate_operator(request);
    if (!who) {
      return refuse(request.peer_certificate.empty() ? 401 : 403,
                    "/metrics needs a client certificate with an operator role (viewer is enough)");
    }
    if (request.method != "GET") return secured(error_reply(405, "method", "use GET"));
    return metrics(*who);
  }
  if (path == "/ui/login") return login(request);
  if (path == "/ui/logout") {
    net::Response out = redirect("/ui/login");
    out.headers.emplace_back("Set-Cookie", std::string(dashboard::kSessionCookie) +
                                               "=; Path=/ui; Max-Age=0; Secure; HttpOnly; "
                                               "SameSite=Strict");
    return out;
  }
  std::string problem;
  auto who = certificate_operator(request);
  if (!who) who = session_operator(request, &problem);
  // The sign-in page's stylesheet and icon hold no data: served to anyone.
  if (request.method == "GET" && (path == "/ui/style.css" || path == "/ui/favicon.svg")) {
    const dashboard::Asset* asset = dashboard::find_asset(path.substr(4));
    return secured(
        net::Response{200, std::string(asset->content_type), std::string(asset->body), {}});
  }
  if (request.method != "GET") {
    if (!who) return refuse(401, "sign in first (patchwave login)");
    audit_("operator:" + who->name, "ui.refused",
           {{"method", request.method}, {"path", path}, {"role", who->role}, {"via", who->via}},
           "refused: the dashboard is read-only");
    return refuse(403, "the dashboard is read-only for every role (yours: " + who->role +
                           "); act with the patchwave command and your own certificate or key");
  }
  if (!who) {
    if (path == "/ui" || path == "/ui/" || path == "/ui/index.html") {
      return redirect(problem.empty() ? "/ui/login" : "/ui/login?expired=1");
    }
    return refuse(401, problem.empty() ? "sign in first: patchwave login" : problem);
  }
  if (path == "/ui") return redirect("/ui/");
  if (path.rfind("/ui/api/", 0) == 0) return view(path.substr(8), query, *who);
  std::string file = path == "/ui/" ? "index.html" : path.substr(4);
  const dashboard::Asset* asset = dashboard::find_asset(file);
  if (asset == nullptr || file == "login.html") {
    return secured(error_reply(404, "not_found", "no such page: " + path));
  }
  return secured(
      net::Response{200, std::string(asset->content_type), std::string(asset->body), {}});
}

net::Response Dashboard::login(const net::Request& request) {
  std::string token;
  if (request.method == "GET") {
    token = dashboard::form_value(split(request.target).second, "token");
    if (token.empty()) {
      bool expired = !dashboard::form_value(split(request.target).second, "expired").empty();
      return login_page(200, expired ? "Your session has expired: sign in again." : "");
    }
  } else if (request.method == "POST") {
    token = dashboard::form_value(request.body, "token");
  } else {
    return secured(error_reply(405, "method", "use GET or POST"));
  }
  auto session = keys_.verify(token, now_seconds());
  if (!session.ok()) return login_page(401, "Not signed in: " + session.error().message);
  net::Response out = redirect("/ui/");
  out.headers.emplace_back(
      "Set-Cookie", std::string(dashboard::kSessionCookie) + "=" + token +
                        "; Path=/ui; Max-Age=" + std::to_string(session->expires - now_seconds()) +
                        "; Secure; HttpOnly; SameSite=Strict");
  return out;
}

net::Response Dashboard::issue_session(const net::Request& request) {
  auto who = certificate_operator(request);
  if (!who) {
    return refuse(request.peer_certificate.empty() ? 401 : 403,
                  "a dashboard session is issued for an operator's client certificate");
  }
  if (request.method != "POST") return secured(error_reply(405, "method", "use POST"));
  std::int64_t ttl = kDefaultSessionSeconds;
  if (!request.body.empty()) {
    auto body = json::parse(request.body);
    if (!body.ok() || !body->is_object()) {
      return secured(error_reply(400, "parse", "expected {\"ttl_seconds\"?: N}"));
    }
    if (body->contains("ttl_seconds")) {
      const json::Value& value = (*body)["ttl_seconds"];
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
          value.get<std::int64_t>() > kMaxSessionSeconds) {
        return secured(error_reply(400, "invalid_argument",
                                   "ttl_seconds: must be an integer from 1 to 86400 (24h)"));
      }
      ttl = value.get<std::int64_t>();
    }
  }
  dashboard::Session session;
  session.operator_name = who->name;
  session.role = who->role;
  session.certificate = who->certificate;
  session.issued = now_seconds();
  // Never longer than the certificate it stands for.
  session.expires = session.issued + ttl;
  if (who->not_after > 0) session.expires = std::min(session.expires, who->not_after);
  auto token = keys_.issue(session);
  if (!token.ok()) return secured(error_reply(token.error()));
  audit_("operator:" + who->name, "session.issued",
         {{"operator", who->name},
          {"role", who->role},
          {"session", session.id},
          {"certificate_sha256", who->certificate},
          {"expires", rfc3339(session.expires)}},
         "ok");
  return json_reply(201, {{"token", *token},
                          {"operator", who->name},
                          {"role", who->role},
                          {"expires", session.expires},
                          {"expires_at", rfc3339(session.expires)},
                          {"login_path", "/ui/login?token=" + *token}});
}

json::Value Dashboard::get(const std::string& target, const Operator& who, int* status) {
  net::Response answer = api_(target, who);
  if (status != nullptr) *status = answer.status;
  json::ParseLimits limits;
  limits.max_bytes = 64u << 20;
  limits.allow_floats = true;  // the policy's error rates, analyses' figures
  auto parsed = json::parse(answer.body, limits);
  if (!parsed.ok()) return json::Value();
  if (status == nullptr && answer.status != 200) return json::Value();
  return *parsed;
}

json::Value Dashboard::policy(const Operator& who) {
  json::Value fleet = get("/v1/fleet", who);
  return fleet.is_object() && fleet.contains("policy") ? fleet["policy"] : json::Value();
}

json::Value Dashboard::chain(const Operator& who) {
  std::lock_guard lock(chain_mutex_);
  auto now = std::chrono::steady_clock::now();
  // The whole chain is hashed again: at most every five seconds, whoever asks.
  if (chain_.is_null() || now - chain_checked_ > std::chrono::seconds(5)) {
    int status = 0;
    json::Value checked = get("/v1/audit/verify", who, &status);
    if (status == 200 || status == 409) {
      chain_ = checked;
      chain_["checked_at"] = now_ms();
      chain_checked_ = now;
    }
  }
  return chain_;
}

void Dashboard::catch_up(const Operator& who) {
  for (int page = 0; page < 10'000; ++page) {
    json::Value answer =
        get("/v1/audit/events?from=" + std::to_string(history_.last_seq() + 1), who);
    if (!answer.is_object() || !answer["events"].is_array()) return;
    for (const auto& event : answer["events"]) history_.add(event);
    if (answer["events"].size() < 1000) return;
  }
}

net::Response Dashboard::metrics(const Operator& who) {
  std::lock_guard lock(history_mutex_);
  catch_up(who);
  dashboard::MetricsInput input;
  input.controller = name_;
  input.now = now_ms();
  input.rollouts = get("/v1/rollouts", who);
  const json::Value& all = input.rollouts.is_object() ? input.rollouts["rollouts"] : json::Value();
  if (all.is_array()) {
    for (std::size_t i = 0; i < all.size(); ++i) {
      std::string state = all[i].value("state", "");
      if (state != "pending" && state != "running" && i + 1 != all.size()) continue;
      json::Value detail = get("/v1/rollouts/" + all[i].value("id", ""), who);
      if (detail.is_object()) input.details.push_back(std::move(detail));
    }
  }
  input.approvals = get("/v1/approvals", who);
  input.servers = get("/v1/servers", who);
  input.status = get("/v1/status", who);
  input.policy = policy(who);
  return net::Response{
      200, dashboard::kMetricsContentType, dashboard::render_metrics(input, history_), {}};
}

net::Response Dashboard::view(const std::string& name, const std::string& query,
                              const Operator& who) {
  dashboard::Millis now = now_ms();
  if (name == "summary") {
    json::Value status = get("/v1/status", who);
    json::Value rollouts = dashboard::rollouts_view(get("/v1/rollouts", who), now);
    json::Value approvals = get("/v1/approvals", who);
    json::Value servers = get("/v1/servers", who);
    json::Value releases = get("/v1/releases", who);
    int active = 0, serving = 0;
    for (const auto& r : rollouts["rollouts"]) active += r["active"].get<bool>() ? 1 : 0;
    if (servers.is_object()) {
      for (const auto& s : servers["servers"]) serving += s.value("state", "") == "serving";
    }
    json::Value chain_status = chain(who);
    return json_reply(
        200,
        {{"controller", name_},
         {"now", now},
         {"operator",
          {{"name", who.name},
           {"role", who.role},
           {"via", who.via},
           {"session_expires_at",
            who.session_expires > 0 ? json::Value(who.session_expires * 1000) : json::Value()}}},
         {"sync", status.is_object() && status.contains("sync") ? status["sync"] : json::Value()},
         {"counts",
          {{"rollouts_active", active},
           {"approvals_waiting", approvals.is_object() && approvals["pending"].is_array()
                                     ? approvals["pending"].size()
                                     : 0},
           {"servers_serving", serving},
           {"releases", releases.is_object() && releases["releases"].is_array()
                            ? releases["releases"].size()
                            : 0}}},
         {"chain",
          {{"intact", chain_status.value("intact", false)},
           {"events", chain_status.value("events", 0)},
           {"checked_at", chain_status.value("checked_at", 0)}}}});
  }
  if (name == "rollouts" || name.rfind("rollouts/", 0) == 0) {
    dashboard::ViewContext context;
    context.policy = policy(who);
    context.now = now;
    json::Value servers = get("/v1/servers", who);
    if (servers.is_object() && servers["servers"].is_array()) {
      for (const auto& s : servers["servers"]) {
        if (s.value("state", "") == "serving") ++context.serving[s.value("region", "")];
      }
    }
    std::lock_guard lock(history_mutex_);
    catch_up(who);
    auto one = [&](const std::string& id, int* status) {
      json::Value detail = get("/v1/rollouts/" + id, who, status);
      if (*status != 200) return detail;
      context.full_traffic_at = history_.full_traffic(id);
      return dashboard::rollout_view(detail, context);
    };
    if (name != "rollouts") {
      std::string id = name.substr(9);
      if (!plain_id(id)) return secured(error_reply(404, "not_found", "no rollout " + id));
      int status = 0;
      json::Value out = one(id, &status);
      return json_reply(status, out);
    }
    json::Value list = dashboard::rollouts_view(get("/v1/rollouts", who), now);
    // In detail: the rollouts in progress, or the latest one when none is.
    json::Value current = json::Value::array();
    auto add = [&](const json::Value& r) {
      int status = 0;
      json::Value view = one(r["id"].get<std::string>(), &status);
      if (status == 200) current.push_back(std::move(view));
    };
    for (const auto& r : list["rollouts"]) {
      if (r["active"].get<bool>()) add(r);
    }
    if (current.empty() && !list["rollouts"].empty()) add(list["rollouts"].front());
    list["current"] = current;
    return json_reply(200, list);
  }
  if (name == "approvals") {
    int status = 0;
    json::Value pending = get("/v1/approvals", who, &status);
    if (status != 200) pending = {{"pending", json::Value::array()}};
    return json_reply(200, dashboard::approvals_view(pending, now));
  }
  if (name == "servers") {
    return json_reply(200, dashboard::servers_view(get("/v1/servers", who), policy(who)));
  }
  if (name == "releases") {
    return json_reply(200,
                      dashboard::releases_view(get("/v1/releases", who), get("/v1/rollouts", who)));
  }
  if (name == "audit") {
    std::size_t limit = 200;
    std::string wanted = dashboard::form_value(query, "limit");
    if (!wanted.empty() && wanted.size() < 5 &&
        std::all_of(wanted.begin(), wanted.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      limit = std::clamp<std::size_t>(std::stoul(wanted), 1, 1000);
    }
    json::Value status = get("/v1/status", who);
    std::int64_t head = status.is_object() && status.contains("audit_head")
                            ? status["audit_head"].value("seq", std::int64_t{0})
                            : 0;
    std::int64_t from = std::max<std::int64_t>(1, head - static_cast<std::int64_t>(limit) + 1);
    json::Value events = get("/v1/audit/events?from=" + std::to_string(from), who);
    return json_reply(200, dashboard::audit_view(events, chain(who), limit));
  }
  return secured(error_reply(404, "not_found", "no such view: " + name));
}

}  // namespace pw::controller
