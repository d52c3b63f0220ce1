// The TUF client workflow against in-memory repositories, including the attacks the
// trust model names. Each refusal checks the error code and that the message names
// the file and the rule.
#include <catch2/catch.hpp>

#include "common/crypto/hash.hpp"
#include "common/trust/client.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/tuf_repo.hpp"

using pw::Errc;
using pw::test::new_key;
using pw::test::TufRepo;
namespace trust = pw::trust;
namespace json = pw::json;

namespace {

const trust::TimePoint kNow = *trust::parse_time("2030-01-01T00:00:00Z");

pw::Result<trust::Client> client_for(TufRepo& repo, trust::TrustedStore& store) {
  return trust::Client::create(repo.files.at("metadata/1.root.json"), store, {kNow});
}

// Refreshes and expects a refusal with `code` whose message contains each of `parts`.
void expect_refused(TufRepo& repo, trust::TrustedStore& store, Errc code,
                    std::initializer_list<std::string> parts) {
  auto client = client_for(repo, store);
  REQUIRE(client.ok());
  auto status = client->refresh(repo);
  REQUIRE_FALSE(status.ok());
  INFO(status.error().to_string());
  CHECK(status.error().code == code);
  for (const auto& part : parts) CHECK(status.error().to_string().find(part) != std::string::npos);
}

TufRepo published_repo(bool consistent = false) {
  TufRepo repo(consistent);
  repo.publish_root(1);
  repo.publish(1, 1, 1, {{"app/1.0/app.tar.gz", "artifact bytes"}});
  return repo;
}

}  // namespace

TEST_CASE("a valid repository verifies, with and without consistent snapshots", "[trust]") {
  for (bool consistent : {false, true}) {
    TufRepo repo = published_repo(consistent);
    auto store = trust::memory_store();
    auto client = client_for(repo, *store);
    REQUIRE(client.ok());
    REQUIRE(client->refresh(repo).ok());
    std::string received;
    auto target = client->verify_target(repo, "app/1.0/app.tar.gz", [&](std::string_view chunk) {
      received += chunk;
      return pw::Status{};
    });
    REQUIRE(target.ok());
    CHECK(received == "artifact bytes");
    CHECK(client->targets()->envelope.version == 1);
  }
}

TEST_CASE("thresholds count distinct keys, ECDSA included", "[trust]") {
  TufRepo repo;
  repo.keys["targets"] = {new_key(), new_key(pw::crypto::KeyType::ecdsa_p256), new_key()};
  repo.thresholds["targets"] = 2;
  repo.publish_root(1);
  SECTION("2 of 3 verifies") {
    repo.keys["targets"].pop_back();
    repo.publish(1, 1, 1, {});
    auto store = trust::memory_store();
    auto client = client_for(repo, *store);
    CHECK(client->refresh(repo).ok());
  }
  SECTION("1 of 3 is refused") {
    repo.keys["targets"].resize(1);
    repo.publish(1, 1, 1, {});
    auto store = trust::memory_store();
    expect_refused(repo, *store, Errc::signature,
                   {"targets.json", "signature threshold not met for role targets: 1 of 2"});
  }
}

TEST_CASE("one key under two key ids counts once", "[trust]") {
  TufRepo repo;
  auto key = new_key();
  repo.keys["targets"] = {key};
  repo.thresholds["targets"] = 2;
  // Root lists the same key twice: once as written, once with an extra field (so a
  // different key id). Both ids are in the targets role; threshold 2.
  json::Value root = repo.root_signed(1);
  auto pub = key.public_key();
  json::Value alias = pub.to_json();
  alias["keyid_hash_algorithms"] = {"sha256", "sha512"};
  std::string alias_id = pw::crypto::sha256_hex(*json::canonical(alias));
  root["keys"][alias_id] = alias;
  root["roles"]["targets"]["keyids"].push_back(alias_id);
  repo.files["metadata/1.root.json"] = TufRepo::sign(root, repo.keys["root"]);
  repo.publish(1, 1, 1, {});
  // Sign targets again under both ids.
  json::Value doc = *json::parse(repo.files["metadata/targets.json"]);
  json::Value second = doc["signatures"][0];
  second["keyid"] = alias_id;
  doc["signatures"].push_back(second);
  repo.files["metadata/targets.json"] = doc.dump();
  // Keep snapshot consistent with the edited file so the signature check is reached.
  std::uint64_t len = repo.files["metadata/targets.json"].size();
  json::Value snap = *json::parse(repo.files["metadata/snapshot.json"]);
  snap["signed"]["meta"]["targets.json"] = {
      {"version", 1},
      {"length", len},
      {"hashes", {{"sha256", pw::crypto::sha256_hex(repo.files["metadata/targets.json"])}}}};
  repo.files["metadata/snapshot.json"] = TufRepo::sign(snap["signed"], repo.keys["snapshot"]);
  json::Value ts = *json::parse(repo.files["metadata/timestamp.json"]);
  ts["signed"]["meta"]["snapshot.json"] = {
      {"version", 1},
      {"length", repo.files["metadata/snapshot.json"].size()},
      {"hashes", {{"sha256", pw::crypto::sha256_hex(repo.files["metadata/snapshot.json"])}}}};
  repo.files["metadata/timestamp.json"] = TufRepo::sign(ts["signed"], repo.keys["timestamp"]);
  auto store = trust::memory_store();
  expect_refused(repo, *store, Errc::signature,
                 {"targets.json", "1 of 2 required", "repeating a key already counted"});
}

TEST_CASE("keys of unknown schemes are ignored, never trusted", "[trust]") {
  TufRepo repo;
  json::Value root = repo.root_signed(1);
  json::Value rsa = {
      {"keytype", "rsa"},
      {"scheme", "rsassa-pss-sha256"},
      {"keyval", {{"public", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}}};
  std::string rsa_id = pw::crypto::sha256_hex(*json::canonical(rsa));
  root["keys"][rsa_id] = rsa;
  root["roles"]["timestamp"]["keyids"].push_back(rsa_id);
  repo.files["metadata/1.root.json"] = TufRepo::sign(root, repo.keys["root"]);
  repo.publish(1, 1, 1, {});
  auto store = trust::memory_store();
  auto client = client_for(repo, *store);
  REQUIRE(client.ok());
  CHECK(client->refresh(repo).ok());  // the ed25519 key meets the threshold alone

  // A timestamp "signed" only by the unknown-scheme key does not verify.
  json::Value ts = *json::parse(repo.files["metadata/timestamp.json"]);
  ts["signatures"] = {{{"keyid", rsa_id}, {"sig", "00"}}};
  repo.files["metadata/timestamp.json"] = ts.dump();
  auto fresh = trust::memory_store();
  expect_refused(repo, *fresh, Errc::signature,
                 {"timestamp.json", "0 of 1 required", "unsupported scheme"});
}

TEST_CASE("a key id that is not the hash of its key is refused", "[trust]") {
  TufRepo repo;
  json::Value root = repo.root_signed(1);
  auto& keys = root["keys"];
  std::string id = keys.begin().key();
  json::Value key = keys[id];
  keys.erase(id);
  keys[std::string(64, 'a')] = key;
  auto store = trust::memory_store();
  auto client = trust::Client::create(TufRepo::sign(root, repo.keys["root"]), *store, {kNow});
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == Errc::mismatch);
  CHECK(client.error().to_string().find("key id is not the sha256") != std::string::npos);
}

TEST_CASE("expired roles are refused", "[trust]") {
  for (const char* role : {"root", "timestamp", "snapshot", "targets"}) {
    TufRepo repo = published_repo();
    auto doc_path = std::string(role) == "root" ? std::string("metadata/1.root.json")
                                                : "metadata/" + std::string(role) + ".json";
    json::Value doc = *json::parse(repo.files[doc_path]);
    doc["signed"]["expires"] = "2029-12-31T23:59:59Z";
    repo.files[doc_path] = TufRepo::sign(doc["signed"], repo.keys[role]);
    if (std::string(role) == "targets" || std::string(role) == "snapshot") {
      // Re-describe the edited file in its parent so only expiry can fail.
      TufRepo fixed = repo;
      if (std::string(role) == "targets") {
        json::Value snap = *json::parse(fixed.files["metadata/snapshot.json"]);
        snap["signed"]["meta"]["targets.json"] = {{"version", 1}};
        fixed.files["metadata/snapshot.json"] =
            TufRepo::sign(snap["signed"], repo.keys["snapshot"]);
      }
      json::Value ts = *json::parse(fixed.files["metadata/timestamp.json"]);
      ts["signed"]["meta"]["snapshot.json"] = {{"version", 1}};
      fixed.files["metadata/timestamp.json"] = TufRepo::sign(ts["signed"], repo.keys["timestamp"]);
      repo = fixed;
    }
    auto store = trust::memory_store();
    INFO(role);
    expect_refused(repo, *store, Errc::expired,
                   {std::string(role) + " metadata version 1 expired at 2029-12-31T23:59:59Z"});
  }
}

TEST_CASE("no role's version may go down against the trusted state", "[trust]") {
  pw::test::TempDir dir;
  auto store = trust::directory_store(dir / "state");
  TufRepo repo;
  repo.publish_root(1);
  repo.publish(5, 5, 5, {});
  {
    auto client = client_for(repo, *store);
    REQUIRE(client->refresh(repo).ok());
  }
  struct Case {
    std::uint64_t targets, snapshot, timestamp;
    std::string expected;
  };
  for (const Case& c :
       {Case{5, 5, 4, "timestamp.json: version 4 is older than the trusted version 5"},
        Case{5, 4, 6, "names snapshot version 4, older than the trusted snapshot version 5"},
        Case{4, 6, 6, "targets.json version 4 is older than the trusted version 5"}}) {
    TufRepo old = repo;
    old.publish(c.targets, c.snapshot, c.timestamp, {});
    INFO(c.expected);
    expect_refused(old, *store, Errc::rollback, {c.expected});
  }
}

TEST_CASE("targets rollback is caught even when snapshot lists nothing older", "[trust]") {
  // go-tuf CVE-2022-29173: compare new targets with the trusted targets directly.
  auto store = trust::memory_store();
  TufRepo repo;
  repo.publish_root(1);
  repo.publish(5, 5, 5, {});
  REQUIRE(client_for(repo, *store)->refresh(repo).ok());
  REQUIRE(store->remove("snapshot").ok());  // the trusted snapshot is gone; targets v5 stays
  TufRepo old = repo;
  old.publish(4, 6, 6, {});
  expect_refused(old, *store, Errc::rollback,
                 {"targets.json", "version 4 is older than the trusted version 5"});
}

TEST_CASE("root rotation: N+1 needs the old threshold and its own", "[trust]") {
  TufRepo repo = published_repo();
  auto old_root = repo.keys["root"];
  auto new_root = std::vector<pw::crypto::PrivateKey>{new_key(), new_key()};
  repo.keys["root"] = new_root;
  repo.thresholds["root"] = 2;

  SECTION("signed by both: followed through 2 and 3") {
    repo.publish_root(2, old_root);
    repo.publish_root(3);
    auto store = trust::memory_store();
    auto client = client_for(repo, *store);
    REQUIRE(client->refresh(repo).ok());
    CHECK(client->root().envelope.version == 3);
    CHECK(client->rotated_roots() == std::vector<std::uint64_t>{2, 3});
    // A later client starts from the stored root 3.
    auto later = client_for(repo, *store);
    CHECK(later->root().envelope.version == 3);
  }
  SECTION("signed only by the new keys: refused") {
    repo.publish_root(2);
    auto store = trust::memory_store();
    expect_refused(repo, *store, Errc::signature,
                   {"2.root.json", "of the trusted root version 1: 0 of 1 required"});
  }
  SECTION("signed only by the old keys: refused") {
    repo.files["metadata/2.root.json"] = TufRepo::sign(repo.root_signed(2), old_root);
    auto store = trust::memory_store();
    expect_refused(repo, *store, Errc::signature,
                   {"2.root.json", "of the new root itself: 0 of 2"});
  }
  SECTION("declaring the wrong version: refused") {
    repo.files["metadata/2.root.json"] = repo.files["metadata/1.root.json"];
    json::Value doc = repo.root_signed(3);
    std::vector<pw::crypto::PrivateKey> all = new_root;
    all.insert(all.end(), old_root.begin(), old_root.end());
    repo.files["metadata/2.root.json"] = TufRepo::sign(doc, all);
    auto store = trust::memory_store();
    expect_refused(repo, *store, Errc::mismatch, {"2.root.json", "declares version 3, expected 2"});
  }
}

TEST_CASE("rotating the timestamp key recovers from a fast-forward attack", "[trust]") {
  auto store = trust::memory_store();
  TufRepo repo = published_repo();
  // An attacker with the timestamp key pushes timestamp version 1000.
  TufRepo attacked = repo;
  attacked.publish(1, 1, 1000, {{"app/1.0/app.tar.gz", "artifact bytes"}});
  REQUIRE(client_for(attacked, *store)->refresh(attacked).ok());
  // Root 2 rotates the timestamp key; the repository goes on at timestamp version 2.
  repo.keys["timestamp"] = {new_key()};
  repo.publish_root(2);
  repo.publish(1, 1, 2, {{"app/1.0/app.tar.gz", "artifact bytes"}});
  auto client = client_for(repo, *store);
  auto status = client->refresh(repo);
  INFO((status.ok() ? std::string() : status.error().to_string()));
  CHECK(status.ok());
  CHECK(client->timestamp()->envelope.version == 2);
}

TEST_CASE("snapshot and targets must match what their parent signed", "[trust]") {
  TufRepo repo = published_repo();
  SECTION("targets.json changed after signing") {
    repo.files["metadata/targets.json"].back() = ' ';
    auto store = trust::memory_store();
    expect_refused(repo, *store, Errc::mismatch,
                   {"targets.json (as described by snapshot.json)", "sha256 does not match"});
  }
  SECTION("snapshot version differs from the timestamp's") {
    TufRepo other = repo;
    other.publish(1, 2, 1, {});
    repo.files["metadata/snapshot.json"] = other.files["metadata/snapshot.json"];
    auto store = trust::memory_store();
    expect_refused(repo, *store, Errc::mismatch, {"snapshot.json"});
  }
}

TEST_CASE("target files are checked for length and every hash", "[trust]") {
  TufRepo repo = published_repo();
  auto store = trust::memory_store();
  auto client = client_for(repo, *store);
  REQUIRE(client->refresh(repo).ok());
  const std::string name = "app/1.0/app.tar.gz";
  auto& bytes = repo.files["targets/" + name];
  struct Case {
    std::string content, expected;
  };
  for (const Case& c : {Case{"artifact bytes!", "longer than the signed length"},
                        Case{"artifact", "length is 8 bytes, signed length is 14"},
                        Case{"artifact BYTES", "sha256 does not match the signed hash"}}) {
    bytes = c.content;
    auto result = client->verify_target(repo, name);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::mismatch);
    CHECK(result.error().to_string().find("target '" + name + "'") != std::string::npos);
    CHECK(result.error().to_string().find(c.expected) != std::string::npos);
  }
  auto missing = client->verify_target(repo, "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("malformed metadata is refused before any signature check", "[trust]") {
  struct Case {
    std::string content, expected;
    Errc code;
  };
  for (const Case& c :
       {Case{"{", "malformed JSON", Errc::parse},
        Case{R"({"signed":{},"signed":{}})", "duplicate key", Errc::parse},
        Case{R"({"signatures":[],"signed":{"version":1.0}})", "floating-point", Errc::parse},
        Case{std::string(200, '[') + std::string(200, ']'), "nesting deeper", Errc::limit},
        Case{R"({"signatures":[],"signed":{"_type":"root"}})",
             "_type is 'root', expected 'timestamp'", Errc::mismatch}}) {
    TufRepo repo = published_repo();
    repo.files["metadata/timestamp.json"] = c.content;
    auto store = trust::memory_store();
    INFO(c.expected);
    expect_refused(repo, *store, c.code, {"timestamp.json", c.expected});
  }
  TufRepo repo = published_repo();
  repo.files["metadata/2.root.json"] = std::string(600 * 1024, ' ');
  auto store = trust::memory_store();
  expect_refused(repo, *store, Errc::limit, {"2.root.json", "limit of 524288"});
}
