#include "tests/support/tuf_repo.hpp"

#include <stdexcept>

#include "common/crypto/hash.hpp"

namespace pw::test {

crypto::PrivateKey new_key(crypto::KeyType type) {
  auto key = crypto::PrivateKey::generate(type);
  if (!key.ok()) throw std::runtime_error(key.error().to_string());
  return *key;
}

TufRepo::TufRepo(bool consistent_snapshot) : consistent(consistent_snapshot) {
  for (const char* role : {"root", "targets", "snapshot", "timestamp"}) {
    keys[role] = {new_key()};
    thresholds[role] = 1;
  }
}

json::Value TufRepo::root_signed(std::uint64_t version) const {
  json::Value key_map = json::Value::object();
  json::Value roles = json::Value::object();
  for (const auto& [role, list] : keys) {
    json::Value ids = json::Value::array();
    for (const auto& key : list) {
      auto pub = key.public_key();
      key_map[pub.keyid()] = pub.to_json();
      ids.push_back(pub.keyid());
    }
    roles[role] = {{"keyids", ids}, {"threshold", thresholds.at(role)}};
  }
  return {{"_type", "root"},    {"spec_version", "1.0.31"},          {"version", version},
          {"expires", expires}, {"consistent_snapshot", consistent}, {"keys", key_map},
          {"roles", roles}};
}

std::string TufRepo::sign(const json::Value& signed_json,
                          const std::vector<crypto::PrivateKey>& signers) {
  auto canonical = json::canonical(signed_json);
  if (!canonical.ok()) throw std::runtime_error(canonical.error().to_string());
  json::Value sigs = json::Value::array();
  for (const auto& key : signers) {
    auto sig = key.sign(*canonical);
    if (!sig.ok()) throw std::runtime_error(sig.error().to_string());
    sigs.push_back({{"keyid", key.public_key().keyid()}, {"sig", *sig}});
  }
  return json::Value{{"signatures", sigs}, {"signed", signed_json}}.dump();
}

void TufRepo::publish_root(std::uint64_t version,
                           const std::vector<crypto::PrivateKey>& also_signers) {
  std::vector<crypto::PrivateKey> signers = keys.at("root");
  signers.insert(signers.end(), also_signers.begin(), also_signers.end());
  files["metadata/" + std::to_string(version) + ".root.json"] = sign(root_signed(version), signers);
}

void TufRepo::publish(std::uint64_t targets_version, std::uint64_t snapshot_version,
                      std::uint64_t timestamp_version,
                      const std::map<std::string, std::string>& targets) {
  auto meta = [](std::uint64_t version, const std::string& bytes) {
    return json::Value{{"version", version},
                       {"length", bytes.size()},
                       {"hashes", {{"sha256", crypto::sha256_hex(bytes)}}}};
  };
  json::Value list = json::Value::object();
  for (const auto& [path, content] : targets) {
    std::string sha = crypto::sha256_hex(content);
    list[path] = {{"length", content.size()}, {"hashes", {{"sha256", sha}}}};
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    files["targets/" + (consistent ? dir + sha + "." + base : path)] = content;
  }
  std::string targets_bytes = sign({{"_type", "targets"},
                                    {"spec_version", "1.0.31"},
                                    {"version", targets_version},
                                    {"expires", expires},
                                    {"targets", list}},
                                   keys.at("targets"));
  std::string snapshot_bytes =
      sign({{"_type", "snapshot"},
            {"spec_version", "1.0.31"},
            {"version", snapshot_version},
            {"expires", expires},
            {"meta", {{"targets.json", meta(targets_version, targets_bytes)}}}},
           keys.at("snapshot"));
  std::string timestamp_bytes =
      sign({{"_type", "timestamp"},
            {"spec_version", "1.0.31"},
            {"version", timestamp_version},
            {"expires", expires},
            {"meta", {{"snapshot.json", meta(snapshot_version, snapshot_bytes)}}}},
           keys.at("timestamp"));
  auto name = [&](std::uint64_t v, const char* file) {
    return "metadata/" + (consistent ? std::to_string(v) + "." : std::string()) + file;
  };
  files[name(targets_version, "targets.json")] = targets_bytes;
  files[name(snapshot_version, "snapshot.json")] = snapshot_bytes;
  files["metadata/timestamp.json"] = timestamp_bytes;
}

Result<std::string> TufRepo::read(const std::string& path, std::uint64_t max_bytes) {
  auto it = files.find(path);
  if (it == files.end()) return make_error(Errc::not_found, path + ": no such file");
  if (it->second.size() > max_bytes) {
    return make_error(Errc::limit,
                      path + " is more than the limit of " + std::to_string(max_bytes) + " bytes");
  }
  return it->second;
}

Status TufRepo::stream(const std::string& path, std::uint64_t max_bytes,
                       const std::function<Status(std::string_view)>& sink) {
  auto it = files.find(path);
  if (it == files.end()) return make_error(Errc::not_found, path + ": no such file");
  std::string_view bytes = it->second;
  if (bytes.size() > max_bytes) {
    PW_TRY(sink(bytes.substr(0, max_bytes + 1)));
    return make_error(Errc::limit, path + " is longer than " + std::to_string(max_bytes));
  }
  return sink(bytes);
}

}  // namespace pw::test
