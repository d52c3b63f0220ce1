#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "common/crypto/keys.hpp"
#include "common/json/json.hpp"
#include "orchestrator/approval/approval.hpp"
#include "orchestrator/approval/countersign.hpp"

namespace approval = pw::approval;
namespace crypto = pw::crypto;
namespace fleet = pw::fleet;
namespace trust = pw::trust;
using pw::Errc;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

namespace {

// Keys made for this run: 0, 1 approve region bw (1 is ECDSA); 2 approves by;
// 3 is in no region; 4, 5, 6 are the security officers.
const std::vector<crypto::PrivateKey>& keys() {
  static const std::vector<crypto::PrivateKey> all = [] {
    std::vector<crypto::PrivateKey> out;
    for (int i = 0; i < 7; ++i) {
      auto type = i == 1 ? crypto::KeyType::ecdsa_p256 : crypto::KeyType::ed25519;
      auto key = crypto::PrivateKey::generate(type);
      REQUIRE(key.ok());
      out.push_back(*key);
    }
    return out;
  }();
  return all;
}

const crypto::PrivateKey& key_at(int i) { return keys().at(static_cast<std::size_t>(i)); }

fleet::Region region(const std::string& name, std::vector<int> approvers) {
  fleet::Region r;
  r.name = name;
  r.display_name = name;
  r.backend = "app_" + name;
  for (int i : approvers) r.approvers.keys.push_back(key_at(i).public_key());
  return r;
}

const fleet::Policy& policy() {
  static const fleet::Policy p = [] {
    fleet::Policy out;
    out.regions.push_back(region("bw", {0, 1}));
    out.regions.push_back(region("by", {2}));
    return out;
  }();
  return p;
}

const std::string kSha = std::string(64, 'a');
const std::string kTarget = "demo-service/1.0.1/demo.tar.gz";
const trust::TimePoint kNow = *trust::parse_time("2026-11-28T10:00:00Z");

approval::Approval fields() {
  approval::Approval a;
  a.rollout = "r1";
  a.target = kTarget;
  a.sha256 = kSha;
  a.region = "bw";
  a.decision = "approve";
  a.comment = "checked the changelog";
  a.issued = kNow - hours{1};
  a.expires = kNow + days{1};
  return a;
}

const approval::Binding kBinding{"r1", kTarget, kSha, "bw"};

std::string sign(const approval::Approval& a, int key = 0) {
  auto text = approval::sign_approval(a, key_at(key));
  REQUIRE(text.ok());
  return *text;
}

pw::Result<approval::Approval> verify(const std::string& text,
                                      const approval::Binding& binding = kBinding,
                                      trust::TimePoint now = kNow) {
  return approval::verify_approval(text, binding, policy(), now, "approval.json");
}

void require_error(const pw::Error& error, Errc code, const std::string& part) {
  INFO(error.to_string());
  CHECK(error.code == code);
  CHECK_THAT(error.to_string(), Catch::Contains(part));
}

template <typename T>
void require_refused(const pw::Result<T>& result, Errc code, const std::string& part) {
  REQUIRE_FALSE(result.ok());
  require_error(result.error(), code, part);
}

pw::json::Value as_json(const std::string& text) { return *pw::json::parse(text); }
std::string text_of(const pw::json::Value& doc) { return doc.dump(1, ' ') + "\n"; }

}  // namespace

TEST_CASE("a valid approval counts", "[approval]") {
  for (int key : {0, 1}) {
    auto ok = verify(sign(fields(), key));
    REQUIRE(ok.ok());
    CHECK(ok->keyid == key_at(key).public_key().keyid());
    CHECK(ok->comment == "checked the changelog");
    CHECK(ok->decision == "approve");
  }
}

TEST_CASE("a reject decision parses and verifies", "[approval]") {
  auto a = fields();
  a.decision = "reject";
  a.comment = "";
  auto ok = verify(sign(a));
  REQUIRE(ok.ok());
  CHECK(ok->decision == "reject");
}

TEST_CASE("an approval by a key of another region is refused", "[approval]") {
  require_refused(verify(sign(fields(), 2)), Errc::permission,
                  "is an approver of region 'by', not of 'bw'");
}

TEST_CASE("an approval by a key in no region is refused", "[approval]") {
  require_refused(verify(sign(fields(), 3)), Errc::permission,
                  "is not an approver of any region in the fleet policy");
}

TEST_CASE("a region not in the policy is refused", "[approval]") {
  auto a = fields();
  a.region = "xx";
  require_refused(verify(sign(a), {"r1", kTarget, kSha, "xx"}), Errc::not_found,
                  "region 'xx' is not in the fleet policy");
}

TEST_CASE("a tampered approval does not verify", "[approval]") {
  auto doc = as_json(sign(fields()));
  doc["signed"]["comment"] = "checked nothing";
  require_refused(verify(text_of(doc)), Errc::signature, "the signature does not verify with key");
}

TEST_CASE("a replayed approval is refused", "[approval]") {
  auto text = sign(fields());
  require_refused(verify(text, {"r2", kTarget, kSha, "bw"}), Errc::mismatch,
                  "it approves rollout r1, not r2: a replayed approval?");
  require_refused(verify(text, {"r1", "demo-service/1.0.2/demo.tar.gz", kSha, "bw"}),
                  Errc::mismatch, "it approves target " + kTarget);
  require_refused(verify(text, {"r1", kTarget, std::string(64, 'b'), "bw"}), Errc::mismatch,
                  "it approves sha256 " + kSha);

  // A key that approves two regions: its approval for one does not open the other.
  fleet::Policy shared = policy();
  shared.regions[1].approvers.keys.push_back(key_at(0).public_key());
  auto other = approval::verify_approval(text, {"r1", kTarget, kSha, "by"}, shared, kNow, "a");
  require_refused(other, Errc::mismatch, "it approves region bw, not by");
}

TEST_CASE("time limits of an approval", "[approval]") {
  auto text = sign(fields());
  require_refused(verify(text, kBinding, kNow + days{1}), Errc::expired,
                  "it expired at 2026-11-29T10:00:00Z");
  CHECK(verify(text, kBinding, kNow + days{1} - std::chrono::seconds{1}).ok());

  auto future = fields();
  future.issued = kNow + minutes{6};
  require_refused(verify(sign(future)), Errc::expired, "not valid yet");
  future.issued = kNow + minutes{5};
  CHECK(verify(sign(future)).ok());

  auto long_lived = fields();
  long_lived.expires = long_lived.issued + days{30} + std::chrono::seconds{1};
  require_refused(approval::sign_approval(long_lived, key_at(0)), Errc::invalid_argument,
                  "more than 30 days after signed.issued");
  auto backwards = fields();
  backwards.expires = backwards.issued;
  require_refused(approval::sign_approval(backwards, key_at(0)), Errc::invalid_argument,
                  "is not after signed.issued");
}

TEST_CASE("an approval has exactly one signature, from distinct keys", "[approval]") {
  auto doc = as_json(sign(fields()));
  auto second = as_json(sign(fields(), 1));
  doc["signatures"].push_back(second["signatures"][0]);
  require_refused(approval::parse_approval(text_of(doc), "two.json"), Errc::parse,
                  "two.json: an approval carries exactly one signature, this one has 2");

  auto dup = as_json(sign(fields()));
  dup["signatures"].push_back(dup["signatures"][0]);
  require_refused(verify(text_of(dup)), Errc::parse,
                  "signed twice by key " + key_at(0).public_key().keyid());

  auto none = as_json(sign(fields()));
  none["signatures"] = pw::json::Value::array();
  require_refused(verify(text_of(none)), Errc::parse, "exactly one signature, this one has 0");
}

TEST_CASE("malformed approval documents are refused", "[approval]") {
  require_refused(approval::parse_approval("{\"signed\": ", "a.json"), Errc::parse, "a.json: ");
  require_refused(approval::parse_approval("[]", "a.json"), Errc::parse, "expected a JSON object");

  std::string big = sign(fields());
  big.insert(big.size() - 2, std::string(approval::kMaxDocumentBytes, ' '));
  require_refused(approval::parse_approval(big, "big.json"), Errc::limit, "big.json: document is");

  auto unknown = as_json(sign(fields()));
  unknown["signed"]["approved_by"] = "me";
  require_refused(verify(text_of(unknown)), Errc::parse, "signed.approved_by: unknown field");

  auto countersig = as_json(sign(fields()));
  countersig["signed"]["_type"] = "countersignature";
  require_refused(verify(text_of(countersig)), Errc::parse,
                  "signed._type is 'countersignature', expected 'approval'");

  auto missing = as_json(sign(fields()));
  missing["signed"].erase("expires");
  require_refused(verify(text_of(missing)), Errc::parse, "field 'expires': missing");

  auto bad_time = as_json(sign(fields()));
  bad_time["signed"]["issued"] = "2026-11-28 10:00:00";
  require_refused(verify(text_of(bad_time)), Errc::parse, "YYYY-MM-DDTHH:MM:SSZ");

  auto bad_decision = as_json(sign(fields()));
  bad_decision["signed"]["decision"] = "maybe";
  require_refused(verify(text_of(bad_decision)), Errc::parse,
                  "'maybe' is neither 'approve' nor 'reject'");

  auto bad_sha = as_json(sign(fields()));
  bad_sha["signed"]["sha256"] = "ABC";
  require_refused(verify(text_of(bad_sha)), Errc::parse, "signed.sha256");

  auto bad_target = as_json(sign(fields()));
  bad_target["signed"]["target"] = "../etc/passwd";
  require_refused(verify(text_of(bad_target)), Errc::parse, "not a relative target path");
}

TEST_CASE("approval comments", "[approval]") {
  auto a = fields();
  a.comment = std::string(approval::kMaxCommentBytes, 'x');
  CHECK(verify(sign(a)).ok());
  a.comment = "Prüfung bestanden ✓";
  CHECK(verify(sign(a)).ok());

  a.comment = std::string(approval::kMaxCommentBytes + 1, 'x');
  require_refused(approval::sign_approval(a, key_at(0)), Errc::invalid_argument,
                  "signed.comment: 1025 bytes, more than the limit of 1024");
  auto doc = as_json(sign(fields()));
  doc["signed"]["comment"] = std::string(approval::kMaxCommentBytes + 1, 'x');
  require_refused(verify(text_of(doc)), Errc::parse, "signed.comment: 1025 bytes");

  a.comment = "line one\nline two";
  require_refused(approval::sign_approval(a, key_at(0)), Errc::invalid_argument,
                  "signed.comment: control character");
  a.comment = "bad \xff byte";
  require_refused(approval::sign_approval(a, key_at(0)), Errc::invalid_argument, "invalid UTF-8");
}

namespace {

fleet::Approvers officers() {
  fleet::Approvers out;
  out.threshold = 2;
  for (int i : {4, 5, 6}) out.keys.push_back(key_at(i).public_key());
  return out;
}

std::string countersigned_by(std::vector<int> signers, const std::string& sha256 = kSha) {
  std::optional<std::string> text;
  for (int i : signers) {
    auto next = approval::countersign(text, kTarget, sha256, key_at(i), kNow);
    REQUIRE(next.ok());
    text = *next;
  }
  return *text;
}

pw::Result<approval::Countersigned> check(const std::string& text) {
  return approval::verify_countersignatures(text, kTarget, kSha, officers(), "cs.json");
}

}  // namespace

TEST_CASE("2 of 3 security officers meet the threshold", "[countersign]") {
  auto ok = check(countersigned_by({4, 6}));
  REQUIRE(ok.ok());
  CHECK(ok->threshold == 2);
  CHECK(ok->keyids ==
        std::vector<std::string>{key_at(4).public_key().keyid(), key_at(6).public_key().keyid()});

  auto parsed = approval::parse_countersignature(countersigned_by({4, 5, 6}), "cs.json");
  REQUIRE(parsed.ok());
  CHECK(parsed->keyids.size() == 3);
  CHECK(parsed->urgency == "emergency");
  CHECK(parsed->issued == kNow);
}

TEST_CASE("1 of 3 security officers does not", "[countersign]") {
  require_refused(check(countersigned_by({5})), Errc::signature,
                  "cs.json: 1 of 2 required security officer signatures on " + kTarget +
                      " are valid; signed by " +
                      approval::short_keyid(key_at(5).public_key().keyid()) + " (valid)");
}

TEST_CASE("signatures by other keys or that do not verify are not counted", "[countersign]") {
  require_refused(check(countersigned_by({0, 4, 2})), Errc::signature,
                  "1 of 2 required security officer signatures");
  require_refused(check(countersigned_by({0, 4, 2})), Errc::signature, "(not an officer, ignored)");

  auto doc = as_json(countersigned_by({4, 5}));
  doc["signatures"][1]["sig"] = doc["signatures"][0]["sig"];  // 5's entry, 4's signature
  require_refused(check(text_of(doc)), Errc::signature, "(does not verify, ignored)");
  CHECK(check(countersigned_by({0, 4, 3, 5})).ok());
}

TEST_CASE("a countersignature for another release does not count", "[countersign]") {
  require_refused(check(countersigned_by({4, 5}, std::string(64, 'b'))), Errc::mismatch,
                  "with sha256 " + std::string(64, 'b') + ", not " + kSha);
  require_refused(approval::verify_countersignatures(countersigned_by({4, 5}), "other/1/x.tgz",
                                                     kSha, officers(), "cs.json"),
                  Errc::mismatch, "it countersigns target " + kTarget + ", not other/1/x.tgz");

  auto routine = as_json(countersigned_by({4, 5}));
  routine["signed"]["urgency"] = "routine";
  require_refused(check(text_of(routine)), Errc::parse, "for urgency 'emergency' only");
  auto dup = as_json(countersigned_by({4}));
  dup["signatures"].push_back(dup["signatures"][0]);
  require_refused(check(text_of(dup)), Errc::parse, "signed twice by key");
}

TEST_CASE("countersign adds one officer at a time", "[countersign]") {
  std::string one = countersigned_by({4});
  require_refused(approval::countersign(one, kTarget, kSha, key_at(4), kNow), Errc::conflict,
                  "already countersigned " + kTarget);
  require_refused(approval::countersign(one, kTarget, std::string(64, 'c'), key_at(5), kNow),
                  Errc::conflict, "is for another release");
  require_refused(approval::countersign(std::string("{}"), kTarget, kSha, key_at(5), kNow),
                  Errc::parse, "the existing countersignature");

  // The second signer keeps the first's `issued`, so the first signature stays valid.
  auto two = approval::countersign(one, kTarget, kSha, key_at(5), kNow + hours{2});
  REQUIRE(two.ok());
  CHECK(check(*two).ok());
  CHECK(approval::parse_countersignature(*two, "cs.json")->issued == kNow);
}
