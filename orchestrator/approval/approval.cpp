#include "orchestrator/approval/approval.hpp"

#include <algorithm>
#include <vector>

namespace pw::approval {
namespace {

bool only_chars(std::string_view s, std::size_t max, bool upper_and_dots) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') return true;
    return upper_and_dots && ((c >= 'A' && c <= 'Z') || c == '.' || c == '_');
  });
}

// The field rules, for both signing and parsing; Errc::parse naming signed.FIELD.
Status check_fields(const Approval& a) {
  if (!only_chars(a.rollout, 64, true)) {
    return make_error(Errc::parse, "signed.rollout: '" + a.rollout +
                                       "' is not a rollout id ([A-Za-z0-9._-]{1,64})");
  }
  PW_TRY(check_target_name(a.target, "signed.target"));
  PW_TRY(check_sha256(a.sha256, "signed.sha256"));
  if (!only_chars(a.region, 32, false)) {
    return make_error(Errc::parse,
                      "signed.region: '" + a.region + "' is not a region name ([a-z0-9-]{1,32})");
  }
  if (a.decision != "approve" && a.decision != "reject") {
    return make_error(Errc::parse,
                      "signed.decision: '" + a.decision + "' is neither 'approve' nor 'reject'");
  }
  PW_TRY(check_text(a.comment, kMaxCommentBytes, "signed.comment"));
  if (a.expires <= a.issued) {
    return make_error(Errc::parse, "signed.expires: " + trust::format_time(a.expires) +
                                       " is not after signed.issued " +
                                       trust::format_time(a.issued));
  }
  if (a.expires - a.issued > kMaxApprovalLifetime) {
    return make_error(Errc::parse, "signed.expires: " + trust::format_time(a.expires) +
                                       " is more than 30 days after signed.issued " +
                                       trust::format_time(a.issued));
  }
  return Ok{};
}

json::Value signed_json(const Approval& a) {
  return {{"_type", "approval"},
          {"rollout", a.rollout},
          {"target", a.target},
          {"sha256", a.sha256},
          {"region", a.region},
          {"decision", a.decision},
          {"comment", a.comment},
          {"issued", trust::format_time(a.issued)},
          {"expires", trust::format_time(a.expires)}};
}

struct Parsed {
  Approval approval;
  Document document;
};

Result<Parsed> parse(std::string_view bytes, std::string_view source) {
  const std::string where(source);
  Parsed out;
  PW_TRY_ASSIGN(out.document, parse_document(bytes, "approval",
                                             {"rollout", "target", "sha256", "region", "decision",
                                              "comment", "issued", "expires"},
                                             source));
  if (out.document.signatures.size() != 1) {
    return make_error(Errc::parse, "an approval carries exactly one signature, this one has " +
                                       std::to_string(out.document.signatures.size()))
        .with_context(where);
  }
  const json::Value& s = out.document.signed_json;
  Approval& a = out.approval;
  for (auto [name, field] :
       {std::pair{"rollout", &a.rollout}, std::pair{"target", &a.target},
        std::pair{"sha256", &a.sha256}, std::pair{"region", &a.region},
        std::pair{"decision", &a.decision}, std::pair{"comment", &a.comment}}) {
    auto value = json::get_string(s, name, "signed");
    if (!value.ok()) return std::move(value).error().with_context(where);
    *field = std::move(*value);
  }
  auto issued = get_time(s, "issued");
  if (!issued.ok()) return std::move(issued).error().with_context(where);
  auto expires = get_time(s, "expires");
  if (!expires.ok()) return std::move(expires).error().with_context(where);
  a.issued = *issued;
  a.expires = *expires;
  auto checked = check_fields(a);
  if (!checked.ok()) return std::move(checked).error().with_context(where);
  a.keyid = out.document.signatures.front().keyid;
  return out;
}

const crypto::PublicKey* find_key(const fleet::Approvers& approvers, const std::string& keyid) {
  for (const auto& key : approvers.keys) {
    if (key.keyid() == keyid) return &key;
  }
  return nullptr;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + ("'" + names[i] + "'");
  }
  return out;
}

}  // namespace

Result<std::string> sign_approval(const Approval& fields, const crypto::PrivateKey& key) {
  auto checked = check_fields(fields);
  if (!checked.ok()) {
    Error error = std::move(checked).error();
    error.code = Errc::invalid_argument;
    return error;
  }
  json::Value s = signed_json(fields);
  PW_TRY_ASSIGN(std::string canonical, json::canonical(s));
  PW_TRY_ASSIGN(trust::Signature signature, sign_canonical(canonical, key));
  return document_text(s, {signature});
}

Result<Approval> parse_approval(std::string_view bytes, std::string_view source) {
  PW_TRY_ASSIGN(Parsed parsed, parse(bytes, source));
  return std::move(parsed.approval);
}

Result<Approval> verify_approval(std::string_view bytes, const Binding& binding,
                                 const fleet::Policy& policy, trust::TimePoint now,
                                 std::string_view source) {
  PW_TRY_ASSIGN(Parsed parsed, parse(bytes, source));
  const Approval& a = parsed.approval;
  auto refuse = [&](Errc code, std::string message) {
    return make_error(code, std::move(message)).with_context(std::string(source));
  };
  const std::string key_name = "key " + short_keyid(a.keyid);

  const fleet::Region* region = policy.find(binding.region);
  if (region == nullptr) {
    return refuse(Errc::not_found, "region '" + binding.region + "' is not in the fleet policy");
  }
  const crypto::PublicKey* key = find_key(region->approvers, a.keyid);
  if (key == nullptr) {
    std::vector<std::string> approves;
    for (const auto& other : policy.regions) {
      if (find_key(other.approvers, a.keyid) != nullptr) approves.push_back(other.name);
    }
    if (approves.empty()) {
      return refuse(Errc::permission,
                    key_name + " is not an approver of any region in the fleet policy");
    }
    return refuse(Errc::permission, key_name + " is an approver of region" +
                                        (approves.size() > 1 ? "s " : " ") + quoted_list(approves) +
                                        ", not of '" + binding.region + "'");
  }
  if (!key->verify(parsed.document.canonical, parsed.document.signatures.front().sig)) {
    return refuse(Errc::signature, "the signature does not verify with " + key_name);
  }

  const std::string verb = a.decision == "approve" ? "approves" : "rejects";
  const std::pair<const char*, std::pair<const std::string*, const std::string*>> bound[] = {
      {"rollout", {&a.rollout, &binding.rollout}},
      {"target", {&a.target, &binding.target}},
      {"sha256", {&a.sha256, &binding.sha256}},
      {"region", {&a.region, &binding.region}}};
  for (const auto& [what, values] : bound) {
    if (*values.first != *values.second) {
      return refuse(Errc::mismatch, "it " + verb + " " + what + " " + *values.first + ", not " +
                                        *values.second + ": a replayed approval?");
    }
  }
  // `issued` first: a document from the future is suspect whatever its expiry says.
  if (a.issued > now + kMaxClockSkew) {
    return refuse(Errc::expired, "it was issued at " + trust::format_time(a.issued) +
                                     ", more than 5 minutes after now (" + trust::format_time(now) +
                                     "): not valid yet");
  }
  if (now >= a.expires) {
    return refuse(Errc::expired, "it expired at " + trust::format_time(a.expires));
  }
  return a;
}

}  // namespace pw::approval
