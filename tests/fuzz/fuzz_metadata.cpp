// libFuzzer target for the metadata reader and verifier: the input is parsed as each
// role's document, and is also served to the TUF client, as the next root in the
// rotation chain and as timestamp.json, against a fixed trusted root. Nothing may
// crash, leak, hang or read out of bounds, and no input may verify (nobody but this
// process holds the private key, and it signs nothing the fuzzer controls).
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "common/crypto/keys.hpp"
#include "common/json/json.hpp"
#include "common/trust/client.hpp"

namespace {

using pw::trust::Role;

class MapSource final : public pw::trust::MetadataSource {
 public:
  std::map<std::string, std::string> files;

  pw::Result<std::string> read(const std::string& path, std::uint64_t max_bytes) override {
    auto it = files.find(path);
    if (it == files.end()) return pw::make_error(pw::Errc::not_found, path);
    if (it->second.size() > max_bytes) return pw::make_error(pw::Errc::limit, path);
    return it->second;
  }
  pw::Status stream(const std::string& path, std::uint64_t max_bytes,
                    const std::function<pw::Status(std::string_view)>& sink) override {
    auto bytes = read(path, max_bytes);
    if (!bytes.ok()) return std::move(bytes).error();
    return sink(*bytes);
  }
};

// A root version 1 signed by a key made at start-up, for every role.
std::string make_root() {
  auto key = pw::crypto::PrivateKey::generate(pw::crypto::KeyType::ed25519);
  if (!key.ok()) std::abort();
  auto pub = key->public_key();
  pw::json::Value role = {{"keyids", {pub.keyid()}}, {"threshold", 1}};
  pw::json::Value signed_json = {
      {"_type", "root"},
      {"spec_version", "1.0.31"},
      {"version", 1},
      {"expires", "2100-01-01T00:00:00Z"},
      {"consistent_snapshot", false},
      {"keys", {{pub.keyid(), pub.to_json()}}},
      {"roles", {{"root", role}, {"targets", role}, {"snapshot", role}, {"timestamp", role}}}};
  auto canonical = pw::json::canonical(signed_json);
  auto sig = key->sign(*canonical);
  pw::json::Value doc = {{"signed", signed_json},
                         {"signatures", {{{"keyid", pub.keyid()}, {"sig", *sig}}}}};
  return doc.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string root = make_root();
  std::string_view input(reinterpret_cast<const char*>(data), size);

  (void)pw::trust::parse_root(input, "fuzz");
  (void)pw::trust::parse_timestamp(input, "fuzz");
  (void)pw::trust::parse_snapshot(input, "fuzz");
  (void)pw::trust::parse_targets(input, "fuzz");
  if (auto value = pw::json::parse(input); value.ok()) (void)pw::json::canonical(*value);

  for (const char* path : {"metadata/2.root.json", "metadata/timestamp.json"}) {
    auto store = pw::trust::memory_store();
    auto client = pw::trust::Client::create(root, *store, {std::chrono::sys_seconds{}});
    if (!client.ok()) std::abort();
    MapSource source;
    source.files[path] = std::string(input);
    if (client->refresh(source).ok()) std::abort();  // unsigned input must never verify
  }
  return 0;
}
