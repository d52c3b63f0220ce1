// release countersign: security officers vouch for an emergency release, one at a time.
#include <algorithm>
#include <map>

#include "common/release_description/release_description.hpp"
#include "orchestrator/approval/countersign.hpp"
#include "orchestrator/release/authoring.hpp"
#include "orchestrator/release/workspace.hpp"
#include "orchestrator/source/source.hpp"

namespace pw::authoring {
namespace {

struct Candidate {
  std::string sha256;
  std::string urgency;  // "emergency", "routine", or "" for a plain target
  std::string listed_in;
};

// Every target of the staged and the published targets.json (the staged entry wins:
// it is the newer document; target names are never reused with other content).
Result<std::map<std::string, Candidate>> known_targets(const std::string& dir) {
  std::map<std::string, Candidate> out;
  PW_TRY_ASSIGN(auto staged, detail::staged_targets(dir));
  PW_TRY_ASSIGN(auto published, detail::published_targets(dir));
  for (const auto* doc : {&staged, &published}) {
    if (!*doc) continue;
    for (const auto& [name, file] : (*doc)->targets) {
      if (out.count(name) != 0) continue;
      auto sha = file.hashes.find("sha256");
      if (sha == file.hashes.end()) continue;  // release add always lists it
      PW_TRY_ASSIGN(auto release, release::from_custom(file.custom, name));
      out[name] = {sha->second, release ? release::urgency_name(release->urgency) : "",
                   (*doc)->envelope.file};
    }
  }
  return out;
}

std::string file_of(const std::string& target) { return "countersignatures/" + target + ".json"; }

// Has `keyid` countersigned `target` already (a missing document: no)?
Result<bool> signed_by(const std::string& dir, const std::string& target,
                       const std::string& keyid) {
  PW_TRY(approval::check_target_name(target, "target"));
  PW_TRY_ASSIGN(auto bytes, detail::read_optional(detail::join(dir, file_of(target))));
  if (!bytes) return false;
  PW_TRY_ASSIGN(auto doc, approval::parse_countersignature(*bytes, file_of(target)));
  return std::find(doc.keyids.begin(), doc.keyids.end(), keyid) != doc.keyids.end();
}

std::string listing(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

Result<std::string> choose_target(const std::string& dir,
                                  const std::map<std::string, Candidate>& targets,
                                  const std::string& keyid) {
  std::vector<std::string> emergency, waiting;
  for (const auto& [name, candidate] : targets) {
    if (candidate.urgency != "emergency") continue;
    emergency.push_back(name);
    PW_TRY_ASSIGN(bool done, signed_by(dir, name, keyid));
    if (!done) waiting.push_back(name);
  }
  const std::string key = "key " + approval::short_keyid(keyid);
  if (waiting.size() == 1) return waiting.front();
  if (waiting.empty() && emergency.empty()) {
    return make_error(Errc::not_found,
                      "no emergency release in staged/targets.json or "
                      "metadata/targets.json to countersign");
  }
  if (waiting.empty()) {
    return make_error(Errc::not_found, key + " has countersigned every emergency release (" +
                                           listing(emergency) +
                                           "); name another one with --target");
  }
  return make_error(Errc::invalid_argument,
                    std::to_string(waiting.size()) + " emergency releases wait for " + key +
                        "'s countersignature: " + listing(waiting) + "; choose one with --target");
}

}  // namespace

Result<CountersignedRelease> countersign_release(const std::string& dir,
                                                 const crypto::PrivateKey& key,
                                                 const CountersignOptions& options) {
  const std::string keyid = key.public_key().keyid();
  PW_TRY_ASSIGN(auto targets, known_targets(dir));
  CountersignedRelease result;
  if (options.target) {
    result.target = *options.target;
  } else {
    PW_TRY_ASSIGN(result.target, choose_target(dir, targets, keyid));
  }
  auto it = targets.find(result.target);
  if (it == targets.end()) {
    return make_error(Errc::not_found, result.target +
                                           " is not a target of staged/targets.json or "
                                           "metadata/targets.json");
  }
  const Candidate& candidate = it->second;
  if (candidate.urgency != "emergency") {
    std::string what = candidate.urgency.empty() ? "a plain target, not a release"
                                                 : "a " + candidate.urgency + " release";
    return make_error(Errc::invalid_argument,
                      result.target + " is " + what + " (" + candidate.listed_in +
                          "): a countersignature is for the emergency path only");
  }
  // The name becomes a path under countersignatures/: it must stay inside it.
  PW_TRY(approval::check_target_name(result.target, "target"));
  result.sha256 = candidate.sha256;
  result.file = file_of(result.target);

  const std::string path = detail::join(dir, result.file);
  PW_TRY_ASSIGN(auto existing, detail::read_optional(path));
  std::optional<std::string_view> previous;
  if (existing) previous = *existing;
  auto text = approval::countersign(previous, result.target, result.sha256, key, options.now);
  if (!text.ok()) return std::move(text).error().with_context(result.file);
  PW_TRY_ASSIGN(auto written, approval::parse_countersignature(*text, result.file));
  result.keyids = written.keyids;
  result.signatures = written.keyids.size();
  PW_TRY(detail::write_atomic(path, *text));
  PW_TRY_ASSIGN(
      result.commit,
      source::commit_paths(dir, {"countersignatures"},
                           "release countersign: key " + keyid.substr(0, 16) + " countersigned " +
                               result.target + " (" + std::to_string(result.signatures) +
                               " signature" + (result.signatures == 1 ? ")" : "s)")));
  return result;
}

}  // namespace pw::authoring
