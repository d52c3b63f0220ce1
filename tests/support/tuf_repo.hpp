// An in-memory signed TUF repository for tests of the trust module: keys per role,
// documents built from JSON the test can bend (versions, expiry, extra keys, bogus
// signatures), served to the client as a MetadataSource.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/crypto/keys.hpp"
#include "common/trust/client.hpp"

namespace pw::test {

class TufRepo final : public trust::MetadataSource {
 public:
  explicit TufRepo(bool consistent_snapshot = false);

  // Keys that sign each role (thresholds default to 1).
  std::map<std::string, std::vector<crypto::PrivateKey>> keys;
  std::map<std::string, std::uint64_t> thresholds;
  bool consistent = false;
  std::string expires = "2100-01-01T00:00:00Z";
  std::map<std::string, std::string> files;  // repository path -> bytes

  // The "signed" object of root version `version` from the current keys.
  json::Value root_signed(std::uint64_t version) const;
  // Signs `signed_json` with `signers` and returns the file text.
  static std::string sign(const json::Value& signed_json,
                          const std::vector<crypto::PrivateKey>& signers);

  // Publishes root N (signed by the current root keys plus `also_signers`).
  void publish_root(std::uint64_t version,
                    const std::vector<crypto::PrivateKey>& also_signers = {});
  // Publishes targets/snapshot/timestamp versions listing `targets` (path -> content).
  void publish(std::uint64_t targets_version, std::uint64_t snapshot_version,
               std::uint64_t timestamp_version, const std::map<std::string, std::string>& targets);

  Result<std::string> read(const std::string& path, std::uint64_t max_bytes) override;
  Status stream(const std::string& path, std::uint64_t max_bytes,
                const std::function<Status(std::string_view)>& sink) override;
};

crypto::PrivateKey new_key(crypto::KeyType type = crypto::KeyType::ed25519);

}  // namespace pw::test
