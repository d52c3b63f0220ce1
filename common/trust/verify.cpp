#include "common/trust/verify.hpp"

#include <algorithm>
#include <set>
#include <vector>

namespace pw::trust {

SignatureCount count_signatures(const Envelope& envelope, const Root& root, Role role) {
  SignatureCount count;
  const RoleKeys& spec = root.roles.at(role);
  std::set<std::string> counted;  // key identities
  for (const Signature& sig : envelope.signatures) {
    bool listed = std::find(spec.keyids.begin(), spec.keyids.end(), sig.keyid) != spec.keyids.end();
    if (!listed) {
      ++count.not_listed;
      continue;
    }
    const crypto::PublicKey& key = root.keys.at(sig.keyid);
    if (!key.supported()) {
      ++count.unsupported;
      continue;
    }
    if (counted.count(key.identity()) != 0) {
      ++count.repeated;
      continue;
    }
    if (!key.verify(envelope.canonical, sig.sig)) {
      ++count.invalid;
      continue;
    }
    counted.insert(key.identity());
  }
  count.valid = counted.size();
  return count;
}

Status verify_threshold(const Envelope& envelope, const Root& root, Role role,
                        const std::string& signer_description) {
  SignatureCount count = count_signatures(envelope, root, role);
  std::uint64_t threshold = root.roles.at(role).threshold;
  if (count.valid >= threshold) return Ok{};

  std::vector<std::string> ignored;
  auto note = [&](std::size_t n, const std::string& what) {
    if (n > 0) ignored.push_back(std::to_string(n) + " " + what);
  };
  note(count.not_listed, std::string("by a key not listed for ") + role_name(role));
  note(count.invalid, "that did not verify");
  note(count.unsupported, "by a key of an unsupported scheme");
  note(count.repeated, "repeating a key already counted");
  std::string message = std::string("signature threshold not met for role ") + role_name(role);
  if (!signer_description.empty()) message += " of " + signer_description;
  message += ": " + std::to_string(count.valid) + " of " + std::to_string(threshold) + " required";
  if (!ignored.empty()) {
    message += " (ignored:";
    for (std::size_t i = 0; i < ignored.size(); ++i) message += (i ? ", " : " ") + ignored[i];
    message += ")";
  }
  return make_error(Errc::signature, message).with_context(envelope.file);
}

}  // namespace pw::trust
