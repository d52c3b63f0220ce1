#include "orchestrator/audit/checkpoint.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log/log.hpp"
#include "orchestrator/source/source.hpp"

namespace pw::audit {
namespace {

constexpr const char* kType = "patchwave-audit-checkpoint";

Result<json::Value> sign_document(const json::Value& signed_part, const crypto::PrivateKey& key) {
  PW_TRY_ASSIGN(std::string canonical, json::canonical(signed_part));
  PW_TRY_ASSIGN(std::string signature, key.sign(canonical));
  return json::Value{
      {"signed", signed_part},
      {"signatures",
       json::Value::array({{{"keyid", key.public_key().keyid()}, {"sig", signature}}})}};
}

// A checkpoint line: parsed, signature checked, fields read.
Result<std::pair<std::int64_t, std::string>> read_line(const std::string& line,
                                                       const crypto::PublicKey& key,
                                                       std::size_t number) {
  std::string where = std::string(kAnchorLog) + " line " + std::to_string(number);
  auto parsed = json::parse(line);
  if (!parsed.ok()) return std::move(parsed).error().with_context(where);
  const json::Value& doc = *parsed;
  if (!doc.is_object() || !doc.contains("signed") || !doc.contains("signatures") ||
      !doc["signed"].is_object() || !doc["signatures"].is_array()) {
    return make_error(Errc::parse, where + ": expected {\"signed\", \"signatures\"}");
  }
  const json::Value& body = doc["signed"];
  if (body.value("_type", "") != kType || !body.contains("seq") ||
      !body["seq"].is_number_integer() || !body.contains("head") || !body["head"].is_string()) {
    return make_error(Errc::parse, where + ": not a " + std::string(kType));
  }
  PW_TRY_ASSIGN(std::string canonical, json::canonical(body));
  bool verified = false;
  for (const auto& signature : doc["signatures"]) {
    if (signature.is_object() && signature.value("keyid", "") == key.keyid() &&
        signature.contains("sig") && signature["sig"].is_string() &&
        key.verify(canonical, signature["sig"].get<std::string>())) {
      verified = true;
    }
  }
  if (!verified) {
    return make_error(Errc::signature,
                      where + ": not signed by the controller key " + key.keyid().substr(0, 12));
  }
  return std::make_pair(body["seq"].get<std::int64_t>(), body["head"].get<std::string>());
}

}  // namespace

Result<Checkpoint> checkpoint(store::Store& store, const crypto::PrivateKey& key,
                              const std::string& anchor_dir) {
  PW_TRY_ASSIGN(auto head, store.audit().head());
  if (!head) return make_error(Errc::not_found, "the audit log is empty: nothing to checkpoint");
  Checkpoint result;
  result.seq = head->seq;
  result.head_hash = head->hash;
  {
    PW_TRY_ASSIGN(
        store::Statement existing,
        store.db().prepare("SELECT document, anchor FROM audit_checkpoints WHERE seq = ?1"));
    existing.bind(1, head->seq);
    PW_TRY_ASSIGN(bool found, existing.step());
    if (found) {
      PW_TRY_ASSIGN(result.document, json::parse(existing.text(0)));
      result.anchor_commit = existing.text(1);
      result.already_anchored = true;
      return result;
    }
  }
  json::Value body = {
      {"_type", kType}, {"seq", head->seq}, {"head", head->hash}, {"time", log::now_rfc3339()}};
  PW_TRY_ASSIGN(result.document, sign_document(body, key));
  if (!source::is_git_repository(anchor_dir)) PW_TRY(source::init_git(anchor_dir));
  std::string log_path = anchor_dir + "/" + kAnchorLog;
  std::filesystem::create_directories(anchor_dir + "/checkpoints");
  {
    std::ofstream out(log_path, std::ios::app | std::ios::binary);
    PW_TRY_ASSIGN(std::string line, json::canonical(result.document));
    out << line << "\n";
    out.flush();
    if (!out) return make_error(Errc::io, log_path + ": cannot append");
  }
  PW_TRY_ASSIGN(result.anchor_commit,
                source::commit_paths(anchor_dir, {"checkpoints"},
                                     "audit checkpoint: event " + std::to_string(head->seq) +
                                         " head " + head->hash.substr(0, 16)));
  PW_TRY_ASSIGN(std::string document, json::canonical(result.document));
  PW_TRY_ASSIGN(store::Statement insert,
                store.db().prepare("INSERT INTO audit_checkpoints (seq, head_hash, document, "
                                   "anchor, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
  insert.bind(1, head->seq)
      .bind(2, head->hash)
      .bind(3, document)
      .bind(4, result.anchor_commit)
      .bind(5, log::now_rfc3339());
  PW_TRY(insert.run());
  return result;
}

Result<AnchorReport> verify_anchors(store::Store& store, const std::string& anchor_spec,
                                    const crypto::PublicKey& key) {
  PW_TRY_ASSIGN(auto reader, source::open_reader(anchor_spec));
  auto text = reader->read(kAnchorLog, 256u << 20);
  if (!text.ok()) return std::move(text).error().with_context("anchor " + anchor_spec);
  AnchorReport report;
  std::istringstream lines(*text);
  std::string line;
  std::size_t number = 0;
  std::int64_t previous = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty()) continue;
    PW_TRY_ASSIGN(auto entry, read_line(line, key, number));
    auto [seq, head] = entry;
    if (seq <= previous) {
      return make_error(Errc::rollback, std::string(kAnchorLog) + " line " +
                                            std::to_string(number) + ": sequence goes backwards");
    }
    previous = seq;
    ++report.checkpoints;
    report.last_seq = seq;
    PW_TRY_ASSIGN(auto event, store.audit().at(seq));
    if (!event) {
      report.intact = false;
      report.first_broken = seq;
      report.reason = "the database has no event " + std::to_string(seq) +
                      ", which an anchored checkpoint covers (history truncated)";
      return report;
    }
    if (event->hash != head) {
      report.intact = false;
      report.first_broken = seq;
      report.reason = "event " + std::to_string(seq) + " in the database differs from the " +
                      "anchored checkpoint (history rewritten)";
      return report;
    }
  }
  return report;
}

}  // namespace pw::audit
