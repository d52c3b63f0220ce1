#include "orchestrator/approval/document.hpp"

#include <algorithm>
#include <set>

namespace pw::approval {
namespace {

bool is_lower_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

Error parse_error(std::string message, std::string_view source) {
  return make_error(Errc::parse, std::move(message)).with_context(std::string(source));
}

std::string join_names(std::initializer_list<std::string_view> names) {
  std::string out;
  for (auto name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// Length of the UTF-8 sequence starting at s[i] and its code point; 0 when malformed
// (overlong forms, surrogates and values above U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& code) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(i);
  std::size_t length = lead < 0x80           ? 1
                       : (lead >> 5) == 0x6  ? 2
                       : (lead >> 4) == 0xe  ? 3
                       : (lead >> 3) == 0x1e ? 4
                                             : 0;
  if (length == 0 || i + length > s.size()) return 0;
  code = length == 1 ? char32_t{lead} : char32_t{lead} & (char32_t{0x7f} >> length);
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (char32_t{byte(i + k)} & char32_t{0x3f});
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMin[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return length;
}

}  // namespace

Result<Document> parse_document(std::string_view bytes, std::string_view type,
                                std::initializer_list<std::string_view> fields,
                                std::string_view source) {
  const std::string where(source);
  if (bytes.size() > kMaxDocumentBytes) {
    return make_error(Errc::limit, "document is " + std::to_string(bytes.size()) +
                                       " bytes, more than the limit of " +
                                       std::to_string(kMaxDocumentBytes))
        .with_context(where);
  }
  json::ParseLimits limits;
  limits.max_bytes = kMaxDocumentBytes;
  auto parsed = json::parse(bytes, limits);
  if (!parsed.ok()) return std::move(parsed).error().with_context(where);
  const json::Value& doc = *parsed;
  if (!doc.is_object()) return parse_error("expected a JSON object", source);
  for (const auto& [key, unused] : doc.items()) {
    if (key != "signed" && key != "signatures") {
      return parse_error("unexpected top-level field '" + key + "'", source);
    }
  }

  Document out;
  auto sigs = json::get_array(doc, "signatures", "");
  if (!sigs.ok()) return std::move(sigs).error().with_context(where);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < (*sigs)->size(); ++i) {
    const json::Value& sig = (**sigs)[i];
    std::string at = "signatures[" + std::to_string(i) + "]";
    if (!sig.is_object() || sig.size() != 2) {
      return parse_error(at + ": expected an object with exactly 'keyid' and 'sig'", source);
    }
    auto keyid = json::get_string(sig, "keyid", at);
    if (!keyid.ok()) return std::move(keyid).error().with_context(where);
    auto value = json::get_string(sig, "sig", at);
    if (!value.ok()) return std::move(value).error().with_context(where);
    if (keyid->size() != 64 || !is_lower_hex(*keyid)) {
      return parse_error(at + ".keyid: expected 64 lowercase hex digits", source);
    }
    if (!is_lower_hex(*value)) return parse_error(at + ".sig: expected lowercase hex", source);
    if (!seen.insert(*keyid).second) {
      return parse_error("signed twice by key " + *keyid, source);
    }
    out.signatures.push_back({*keyid, *value});
  }

  auto signed_obj = json::get_object(doc, "signed", "");
  if (!signed_obj.ok()) return std::move(signed_obj).error().with_context(where);
  out.signed_json = **signed_obj;
  auto doc_type = json::get_string(out.signed_json, "_type", "signed");
  if (!doc_type.ok()) return std::move(doc_type).error().with_context(where);
  if (*doc_type != type) {
    return parse_error("signed._type is '" + *doc_type + "', expected '" + std::string(type) + "'",
                       source);
  }
  for (const auto& [key, unused] : out.signed_json.items()) {
    if (key != "_type" && std::find(fields.begin(), fields.end(), key) == fields.end()) {
      return parse_error("signed." + key + ": unknown field (" + std::string(type) +
                             " takes: _type, " + join_names(fields) + ")",
                         source);
    }
  }
  auto canonical = json::canonical(out.signed_json);
  if (!canonical.ok()) return std::move(canonical).error().with_context(where);
  out.canonical = std::move(*canonical);
  return out;
}

std::string document_text(const json::Value& signed_json,
                          const std::vector<trust::Signature>& signatures) {
  json::Value sigs = json::Value::array();
  for (const auto& sig : signatures) sigs.push_back({{"keyid", sig.keyid}, {"sig", sig.sig}});
  json::Value doc = {{"signatures", sigs}, {"signed", signed_json}};
  return doc.dump(1, ' ') + "\n";
}

Result<trust::Signature> sign_canonical(std::string_view canonical, const crypto::PrivateKey& key) {
  PW_TRY_ASSIGN(std::string sig, key.sign(canonical));
  return trust::Signature{key.public_key().keyid(), std::move(sig)};
}

std::string short_keyid(std::string_view keyid) {
  if (keyid.size() <= 14) return std::string(keyid);
  return std::string(keyid.substr(0, 8)) + ".." + std::string(keyid.substr(keyid.size() - 4));
}

Status check_target_name(std::string_view name, std::string_view field) {
  const std::string f(field);
  if (name.empty() || name.size() > 1024) {
    return make_error(Errc::parse, f + ": a target name has 1 to 1024 bytes");
  }
  PW_TRY(check_text(name, 1024, field));
  std::size_t start = 0;
  while (true) {
    std::size_t slash = name.find('/', start);
    std::string_view part =
        name.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return make_error(Errc::parse, f + ": '" + std::string(name) +
                                         "' is not a relative target path (empty, '.' or '..' "
                                         "component)");
    }
    if (part.find('\\') != std::string_view::npos) {
      return make_error(Errc::parse, f + ": a target name has no backslash");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Ok{};
}

Status check_sha256(std::string_view hex, std::string_view field) {
  if (hex.size() != 64 || !is_lower_hex(hex)) {
    return make_error(Errc::parse, std::string(field) + ": expected 64 lowercase hex digits");
  }
  return Ok{};
}

Status check_text(std::string_view text, std::size_t max_bytes, std::string_view field) {
  const std::string f(field);
  if (text.size() > max_bytes) {
    return make_error(Errc::parse, f + ": " + std::to_string(text.size()) +
                                       " bytes, more than the limit of " +
                                       std::to_string(max_bytes));
  }
  for (std::size_t i = 0; i < text.size();) {
    char32_t code = 0;
    std::size_t length = utf8_sequence(text, i, code);
    if (length == 0) {
      return make_error(Errc::parse, f + ": invalid UTF-8 at byte " + std::to_string(i));
    }
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      return make_error(Errc::parse,
                        f + ": control character at byte " + std::to_string(i) + " (not allowed)");
    }
    i += length;
  }
  return Ok{};
}

Result<trust::TimePoint> get_time(const json::Value& signed_json, std::string_view name) {
  PW_TRY_ASSIGN(std::string text, json::get_string(signed_json, name, "signed"));
  auto time = trust::parse_time(text);
  if (!time.ok()) return std::move(time).error().with_context("signed." + std::string(name));
  return *time;
}

}  // namespace pw::approval
