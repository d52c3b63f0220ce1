// libFuzzer target for the signed documents regional approvers and security officers
// hand in: the input is read as an approval and as a countersignature, and checked
// against a fixed fleet policy whose keys were made at start-up. Nothing may crash,
// leak, hang or read out of bounds, and no input may count (nobody but this process
// holds the private keys, and they sign nothing the fuzzer controls).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/crypto/keys.hpp"
#include "orchestrator/approval/approval.hpp"
#include "orchestrator/approval/countersign.hpp"

namespace {

const pw::fleet::Policy& policy() {
  static const pw::fleet::Policy made = [] {
    pw::fleet::Policy p;
    for (const char* name : {"bw", "by"}) {
      pw::fleet::Region region;
      region.name = name;
      auto key = pw::crypto::PrivateKey::generate(pw::crypto::KeyType::ed25519);
      if (!key.ok()) std::abort();
      region.approvers.keys.push_back(key->public_key());
      region.approvers.threshold = 1;
      p.regions.push_back(region);
    }
    pw::fleet::Approvers officers;
    auto key = pw::crypto::PrivateKey::generate(pw::crypto::KeyType::ed25519);
    if (!key.ok()) std::abort();
    officers.keys.push_back(key->public_key());
    officers.threshold = 1;
    p.security_officers = officers;
    return p;
  }();
  return made;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto& p = policy();
  if (auto parsed = pw::approval::parse_approval(bytes, "fuzz"); parsed.ok()) {
    pw::approval::Binding binding{parsed->rollout, parsed->target, parsed->sha256, parsed->region};
    auto counted = pw::approval::verify_approval(bytes, binding, p, parsed->issued, "fuzz");
    if (counted.ok()) std::abort();  // a signature nobody made
  }
  if (auto parsed = pw::approval::parse_countersignature(bytes, "fuzz"); parsed.ok()) {
    auto counted = pw::approval::verify_countersignatures(bytes, parsed->target, parsed->sha256,
                                                          *p.security_officers, "fuzz");
    if (counted.ok()) std::abort();
  }
  return 0;
}
