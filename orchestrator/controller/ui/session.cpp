#include "orchestrator/controller/ui/session.hpp"

#include <filesystem>

#include "common/crypto/hash.hpp"
#include "common/json/json.hpp"

namespace pw::dashboard {
namespace {

constexpr std::string_view kPrefix = "pws1.";
constexpr std::string_view kContext = "patchwave-ui-session-v1\n";
constexpr std::size_t kMaxTokenBytes = 4096;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
               hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

Result<SessionKeys> SessionKeys::open(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    PW_TRY_ASSIGN(auto fresh, crypto::PrivateKey::generate(crypto::KeyType::ed25519));
    PW_TRY(fresh.save(path));
  }
  PW_TRY_ASSIGN(auto key, crypto::PrivateKey::load(path));
  return SessionKeys(std::move(key));
}

SessionKeys::SessionKeys(crypto::PrivateKey key)
    : key_(std::make_shared<const crypto::PrivateKey>(std::move(key))),
      public_key_(std::make_shared<const crypto::PublicKey>(key_->public_key())) {}

Result<std::string> SessionKeys::issue(Session& session) const {
  if (session.id.empty()) {
    PW_TRY_ASSIGN(session.id, crypto::random_hex(12));
  }
  json::Value payload = {{"sub", session.operator_name}, {"role", session.role},
                         {"cert", session.certificate},  {"iat", session.issued},
                         {"exp", session.expires},       {"jti", session.id}};
  PW_TRY_ASSIGN(std::string bytes, json::canonical(payload));
  PW_TRY_ASSIGN(std::string signature, key_->sign(std::string(kContext) + bytes));
  return std::string(kPrefix) + crypto::to_hex(crypto::Bytes(bytes.begin(), bytes.end())) + "." +
         signature;
}

Result<Session> SessionKeys::verify(std::string_view token, std::int64_t now_seconds) const {
  auto malformed = [] { return make_error(Errc::parse, "not a dashboard session token"); };
  if (token.size() > kMaxTokenBytes || token.substr(0, kPrefix.size()) != kPrefix) {
    return malformed();
  }
  token.remove_prefix(kPrefix.size());
  auto dot = token.find('.');
  if (dot == std::string_view::npos) return malformed();
  auto payload_hex = token.substr(0, dot);
  auto signature = token.substr(dot + 1);
  auto bytes = crypto::from_hex(payload_hex);
  if (!bytes.ok()) return malformed();
  std::string payload(bytes->begin(), bytes->end());
  if (!public_key_->verify(std::string(kContext) + payload, signature)) {
    return make_error(Errc::signature, "the session token's signature does not verify");
  }
  auto parsed = json::parse(payload);
  if (!parsed.ok() || !parsed->is_object()) return malformed();
  const json::Value& doc = *parsed;
  Session session;
  try {
    session.operator_name = doc.at("sub").get<std::string>();
    session.role = doc.at("role").get<std::string>();
    session.certificate = doc.at("cert").get<std::string>();
    session.issued = doc.at("iat").get<std::int64_t>();
    session.expires = doc.at("exp").get<std::int64_t>();
    session.id = doc.at("jti").get<std::string>();
  } catch (const std::exception&) {
    return malformed();
  }
  if (now_seconds >= session.expires) {
    return make_error(Errc::expired, "the session expired; run patchwave login again");
  }
  if (session.issued > now_seconds + 300) {
    return make_error(Errc::parse, "the session token was issued in the future");
  }
  return session;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semicolon = header.find(';');
    auto part = trim(header.substr(0, semicolon));
    auto equals = part.find('=');
    if (equals != std::string_view::npos && trim(part.substr(0, equals)) == name) {
      auto value = trim(part.substr(equals + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
    if (semicolon == std::string_view::npos) break;
    header.remove_prefix(semicolon + 1);
  }
  return {};
}

std::string form_value(std::string_view text, std::string_view name) {
  while (!text.empty()) {
    auto amp = text.find('&');
    auto part = text.substr(0, amp);
    auto equals = part.find('=');
    if (url_decode(part.substr(0, equals)) == name) {
      return equals == std::string_view::npos ? std::string() : url_decode(part.substr(equals + 1));
    }
    if (amp == std::string_view::npos) break;
    text.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace pw::dashboard
