#include "orchestrator/approval/countersign.hpp"

#include <set>

namespace pw::approval {
namespace {

struct Parsed {
  Countersignature countersignature;
  Document document;
};

Result<Parsed> parse(std::string_view bytes, std::string_view source) {
  const std::string where(source);
  Parsed out;
  PW_TRY_ASSIGN(out.document, parse_document(bytes, "countersignature",
                                             {"target", "sha256", "urgency", "issued"}, source));
  if (out.document.signatures.empty()) {
    return make_error(Errc::parse, "a countersignature has at least one signature, this one none")
        .with_context(where);
  }
  const json::Value& s = out.document.signed_json;
  Countersignature& c = out.countersignature;
  for (auto [name, field] : {std::pair{"target", &c.target}, std::pair{"sha256", &c.sha256},
                             std::pair{"urgency", &c.urgency}}) {
    auto value = json::get_string(s, name, "signed");
    if (!value.ok()) return std::move(value).error().with_context(where);
    *field = std::move(*value);
  }
  auto checked = check_target_name(c.target, "signed.target");
  if (checked.ok()) checked = check_sha256(c.sha256, "signed.sha256");
  if (checked.ok() && c.urgency != "emergency") {
    checked = make_error(Errc::parse, "signed.urgency: '" + c.urgency +
                                          "': a countersignature is for urgency 'emergency' only");
  }
  if (!checked.ok()) return std::move(checked).error().with_context(where);
  auto issued = get_time(s, "issued");
  if (!issued.ok()) return std::move(issued).error().with_context(where);
  c.issued = *issued;
  for (const auto& sig : out.document.signatures) c.keyids.push_back(sig.keyid);
  return out;
}

// The first field of `c` that differs from target / sha256, as "it countersigns ...".
std::optional<std::string> difference(const Countersignature& c, const std::string& target,
                                      const std::string& sha256) {
  if (c.target != target) return "it countersigns target " + c.target + ", not " + target;
  if (c.sha256 != sha256) {
    return "it countersigns " + c.target + " with sha256 " + c.sha256 + ", not " + sha256;
  }
  return std::nullopt;
}

}  // namespace

Result<Countersignature> parse_countersignature(std::string_view bytes, std::string_view source) {
  PW_TRY_ASSIGN(Parsed parsed, parse(bytes, source));
  return std::move(parsed.countersignature);
}

Result<std::string> countersign(std::optional<std::string_view> existing, const std::string& target,
                                const std::string& sha256, const crypto::PrivateKey& key,
                                trust::TimePoint now) {
  const std::string keyid = key.public_key().keyid();
  json::Value signed_json;
  std::vector<trust::Signature> signatures;
  if (existing) {
    PW_TRY_ASSIGN(Parsed parsed, parse(*existing, "the existing countersignature"));
    if (auto diff = difference(parsed.countersignature, target, sha256)) {
      return make_error(Errc::conflict,
                        "the existing countersignature is for another release: " + *diff);
    }
    for (const auto& id : parsed.countersignature.keyids) {
      if (id == keyid) {
        return make_error(Errc::conflict,
                          "key " + short_keyid(keyid) + " already countersigned " + target);
      }
    }
    signed_json = std::move(parsed.document.signed_json);
    signatures = std::move(parsed.document.signatures);
  } else {
    auto checked = check_target_name(target, "target");
    if (checked.ok()) checked = check_sha256(sha256, "sha256");
    if (!checked.ok()) {
      Error error = std::move(checked).error();
      error.code = Errc::invalid_argument;
      return error;
    }
    signed_json = {{"_type", "countersignature"},
                   {"target", target},
                   {"sha256", sha256},
                   {"urgency", "emergency"},
                   {"issued", trust::format_time(now)}};
  }
  PW_TRY_ASSIGN(std::string canonical, json::canonical(signed_json));
  PW_TRY_ASSIGN(trust::Signature signature, sign_canonical(canonical, key));
  signatures.push_back(std::move(signature));
  std::string text = document_text(signed_json, signatures);
  if (text.size() > kMaxDocumentBytes) {
    return make_error(Errc::limit, "the countersignature would be " + std::to_string(text.size()) +
                                       " bytes, more than the limit of " +
                                       std::to_string(kMaxDocumentBytes));
  }
  return text;
}

Result<Countersigned> verify_countersignatures(std::string_view bytes, const std::string& target,
                                               const std::string& sha256,
                                               const fleet::Approvers& officers,
                                               std::string_view source) {
  const std::string where(source);
  PW_TRY_ASSIGN(Parsed parsed, parse(bytes, source));
  if (auto diff = difference(parsed.countersignature, target, sha256)) {
    return make_error(Errc::mismatch, *diff).with_context(where);
  }
  if (officers.keys.empty() || officers.threshold < 1) {
    return make_error(Errc::invalid_argument,
                      "no security officers (keys and a threshold of at least 1) to check it with")
        .with_context(where);
  }
  Countersigned result;
  result.threshold = officers.threshold;
  std::set<std::string> counted;  // key identities: one key under two ids counts once
  std::string signers;            // for the message: every key and what its signature is
  for (const auto& sig : parsed.document.signatures) {
    const crypto::PublicKey* key = nullptr;
    for (const auto& officer : officers.keys) {
      if (officer.keyid() == sig.keyid) key = &officer;
    }
    const char* verdict = "valid";
    if (key == nullptr) {
      verdict = "not an officer, ignored";
    } else if (!key->verify(parsed.document.canonical, sig.sig)) {
      verdict = "does not verify, ignored";
    } else if (!counted.insert(key->identity()).second) {
      verdict = "the same key again, ignored";
    } else {
      result.keyids.push_back(sig.keyid);
    }
    signers += (signers.empty() ? "" : ", ") + short_keyid(sig.keyid) + " (" + verdict + ")";
  }
  if (result.keyids.size() >= officers.threshold) return result;
  return make_error(Errc::signature, std::to_string(result.keyids.size()) + " of " +
                                         std::to_string(officers.threshold) +
                                         " required security officer signatures on " + target +
                                         " are valid; signed by " + signers)
      .with_context(where);
}

}  // namespace pw::approval
