// The outbox's front door (enqueue), the event names, URL redaction and option checks.
#include "orchestrator/notify/notify.hpp"

#include <algorithm>
#include <cctype>

#include "common/log/log.hpp"
#include "common/net/http.hpp"

namespace pw::notify {

const std::vector<std::string>& known_events() {
  static const std::vector<std::string> events = {"approval.requested", "approval.rejected",
                                                  "approval.expired",   "region.succeeded",
                                                  "region.rolled_back", "rollout.finished"};
  return events;
}

bool is_known_event(const std::string& event) {
  const auto& events = known_events();
  return std::find(events.begin(), events.end(), event) != events.end();
}

std::string known_events_list() {
  std::string out;
  for (const auto& event : known_events()) out += (out.empty() ? "" : ", ") + event;
  return out;
}

namespace {

// parse_url takes everything before the first '/' as the authority, so
// "https://host?token=x" would yield the host "host?token=x": hosts are checked here.
bool plausible_host(const std::string& host, bool ipv6) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [ipv6](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
           (ipv6 && (c == ':' || c == '%'));
  });
}

}  // namespace

std::string redact_url(const std::string& url) {
  auto parsed = net::parse_url(url);
  if (!parsed.ok()) return "(invalid URL)";
  std::string_view authority = std::string_view(url).substr(url.find("://") + 3);
  authority = authority.substr(0, authority.find('/'));
  bool ipv6 = !authority.empty() && authority.front() == '[';
  if (!plausible_host(parsed->host, ipv6)) return "(invalid URL)";
  std::string out = parsed->scheme + "://" + (ipv6 ? "[" + parsed->host + "]" : parsed->host);
  // The port only when the URL names one (parse_url fills in the scheme's default).
  bool explicit_port = authority.find(ipv6 ? "]:" : ":") != std::string_view::npos;
  if (explicit_port) out += ":" + std::to_string(parsed->port);
  return out + "/…";
}

Status enqueue(store::Database& db, const std::string& event, const json::Value& fields,
               const std::string& text) {
  if (!is_known_event(event)) {
    return make_error(Errc::invalid_argument,
                      "notification event '" + event + "': unknown; known: " + known_events_list());
  }
  if (!fields.is_object() && !fields.is_null()) {
    return make_error(Errc::invalid_argument,
                      "notification " + event + ": fields must be a JSON object");
  }
  std::string time = log::now_rfc3339();
  json::Value payload = fields.is_object() ? fields : json::Value::object();
  payload["text"] = text;
  payload["event"] = event;
  payload["time"] = time;
  PW_TRY_ASSIGN(store::Statement insert,
                db.prepare("INSERT INTO notifications (event, payload, created_at) "
                           "VALUES (?1, ?2, ?3)"));
  insert.bind(1, event)
      .bind(2, payload.dump(-1, ' ', false, json::Value::error_handler_t::replace))
      .bind(3, time);
  auto inserted = insert.run();
  if (!inserted.ok()) return std::move(inserted).error().with_context("queueing " + event);
  return Ok{};
}

Status validate(const Options& options) {
  auto bad = [](const std::string& what) { return make_error(Errc::invalid_argument, what); };
  if (options.max_attempts < 1) return bad("max_attempts: must be at least 1");
  if (options.first_backoff.count() <= 0 || options.max_backoff < options.first_backoff) {
    return bad("backoff: first must be positive and not above max");
  }
  if (options.timeout.count() <= 0) return bad("timeout: must be positive");
  for (std::size_t i = 0; i < options.webhooks.size(); ++i) {
    const auto& webhook = options.webhooks[i];
    std::string where = "webhooks[" + std::to_string(i) + "]";
    auto url = net::parse_url(webhook.url);
    if (!url.ok()) {
      // parse_url's message quotes the URL; only the rule it broke is repeated.
      std::string rule = url.error().message;
      auto quote_end = rule.find("': ");
      rule = quote_end == std::string::npos ? "not a usable URL" : rule.substr(quote_end + 3);
      return bad(where + ".url: " + rule);
    }
    if (redact_url(webhook.url) == "(invalid URL)") {
      return bad(where + ".url: the host has characters a host name cannot have");
    }
    for (const auto& event : webhook.events) {
      if (!is_known_event(event)) {
        return bad(where + ".events: unknown event '" + event + "'; known: " + known_events_list());
      }
    }
  }
  return Ok{};
}

}  // namespace pw::notify
