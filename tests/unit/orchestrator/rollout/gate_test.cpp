// The approval gate: signed approvals from the region's own keys, rejections, the
// request's expiry, maintenance windows and the emergency policy's shortcuts.
#include <catch2/catch.hpp>

#include "common/crypto/keys.hpp"
#include "orchestrator/approval/approval.hpp"
#include "tests/unit/orchestrator/rollout/world.hpp"

using namespace fakes;
using pw::crypto::KeyType;
using pw::crypto::PrivateKey;

namespace {

PrivateKey new_key() {
  auto key = PrivateKey::generate(KeyType::ed25519);
  REQUIRE(key.ok());
  return *key;
}

// A region `name` whose approvers are `keys`, `threshold` of them needed.
pw::fleet::Region gated(const std::string& name, int wave, const std::vector<PrivateKey>& keys,
                        std::size_t threshold) {
  auto r = region(name, wave);
  r.approvers.keys.clear();
  for (const auto& key : keys) r.approvers.keys.push_back(key.public_key());
  r.approvers.threshold = threshold;
  r.emergency_approvals = threshold;
  r.approval_timeout = std::chrono::seconds(3600);
  return r;
}

std::string sign(World& world, const PrivateKey& key, const std::string& region,
                 const std::string& decision = "approve", Millis lifetime_ms = 86'400'000,
                 const std::string& rollout = "") {
  pw::approval::Approval fields;
  fields.rollout = rollout.empty() ? world.rollout.id : rollout;
  fields.target = world.rollout.target;
  fields.sha256 = world.rollout.sha256;
  fields.region = region;
  fields.decision = decision;
  fields.comment = decision == "reject" ? "clashes with the billing run" : "";
  fields.issued = std::chrono::floor<std::chrono::seconds>(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(world.clock.t)));
  fields.expires = fields.issued + std::chrono::seconds(lifetime_ms / 1000);
  auto document = pw::approval::sign_approval(fields, key);
  REQUIRE(document.ok());
  return *document;
}

void tick_n(World& world, int n) {
  for (int i = 0; i < n; ++i) REQUIRE(world.tick().ok());
}

bool audited(const World& world, const std::string& prefix) {
  for (const auto& line : world.records.audit_log) {
    if (line.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// 2026-11-30 (a Monday) 12:00 UTC, in milliseconds.
constexpr Millis kMondayNoon = 1'796'040'000'000;

}  // namespace

TEST_CASE("a region waits for a threshold of its own approvers' signatures", "[rollout][gate]") {
  std::vector<PrivateKey> bw = {new_key(), new_key(), new_key()};
  World world({gated("bw", 1, bw, 2)});
  world.start();
  tick_n(world, 3);
  CHECK(world.at("bw").state == RegionState::awaiting_approval);
  CHECK(world.at("bw").gate.value("waiting_for", "") == "approvals");
  CHECK(world.at("bw").gate.value("needed", 0) == 2);
  CHECK(audited(world, "approval.requested ok"));
  REQUIRE(world.records.notified.size() == 1);
  CHECK(world.records.notified[0].rfind("approval.requested Patchwave: approval requested", 0) ==
        0);

  // One signature is not enough; the same key twice still counts once.
  world.records.documents["bw"].push_back(sign(world, bw[0], "bw"));
  world.records.documents["bw"].push_back(sign(world, bw[0], "bw"));
  tick_n(world, 3);
  CHECK(world.at("bw").state == RegionState::awaiting_approval);
  CHECK(world.at("bw").gate["approved_by"].size() == 1);
  CHECK(world.fleet.provision_calls == 0);

  world.records.documents["bw"].push_back(sign(world, bw[2], "bw"));
  world.run();
  CHECK(world.at("bw").state == RegionState::succeeded);
  CHECK(world.visited["bw"][0] == "awaiting_approval");
  CHECK(world.visited["bw"][1] == "provisioning");
}

TEST_CASE("approvals that do not count are ignored at the gate", "[rollout][gate]") {
  std::vector<PrivateKey> bw = {new_key(), new_key()};
  std::vector<PrivateKey> by = {new_key()};
  World world({gated("bw", 1, bw, 1), gated("by", 1, by, 1)});
  world.start();
  tick_n(world, 2);

  // by's approver signing for bw; an approval for another rollout; a tampered one; one
  // that expired before the gate looked.
  world.records.documents["bw"].push_back(sign(world, by[0], "bw"));
  world.records.documents["bw"].push_back(sign(world, bw[0], "bw", "approve", 86'400'000, "r0"));
  world.records.documents["bw"].push_back(sign(world, bw[0], "by"));
  std::string tampered = sign(world, bw[1], "bw");
  tampered.replace(tampered.find("\"approve\""), 9, "\"reject\"");
  world.records.documents["bw"].push_back(tampered);
  world.records.documents["bw"].push_back(sign(world, bw[0], "bw", "approve", 1000));
  world.clock.t += 5000;
  tick_n(world, 5);
  CHECK(world.at("bw").state == RegionState::awaiting_approval);
  CHECK(world.at("bw").gate["approved_by"].empty());

  // by's own approver opens by; bw stays closed.
  world.records.documents["by"].push_back(sign(world, by[0], "by"));
  tick_n(world, 2);
  CHECK(world.at("by").state != RegionState::awaiting_approval);
  CHECK(world.at("bw").state == RegionState::awaiting_approval);
}

TEST_CASE("a rejection stops the region, and the failure policy the rest", "[rollout][gate]") {
  std::vector<PrivateKey> bw = {new_key()};
  std::vector<PrivateKey> by = {new_key()};
  World world({gated("bw", 1, bw, 1), gated("by", 2, by, 1)});
  world.start();
  tick_n(world, 2);
  world.records.documents["bw"].push_back(sign(world, bw[0], "bw", "reject"));
  world.run();
  CHECK(world.at("bw").state == RegionState::rejected);
  CHECK(world.at("bw").reason.find("clashes with the billing run") != std::string::npos);
  CHECK(world.at("by").state == RegionState::aborted);
  CHECK(world.at("by").reason.find("region bw rejected") != std::string::npos);
  CHECK(world.rollout.state == RolloutState::aborted);
  CHECK(world.fleet.provision_calls == 0);
  bool notified = false;
  for (const auto& line : world.records.notified)
    notified |= line.rfind("approval.rejected", 0) == 0;
  CHECK(notified);
}

TEST_CASE("an unanswered approval request expires and says so", "[rollout][gate]") {
  std::vector<PrivateKey> bw = {new_key()};
  World world({gated("bw", 1, bw, 1)});
  world.policy.regions[0].approval_timeout = std::chrono::seconds(30);
  world.start();
  tick_n(world, 20);
  CHECK(world.at("bw").state == RegionState::awaiting_approval);
  world.run(60);
  CHECK(world.at("bw").state == RegionState::expired);
  CHECK(world.at("bw").reason.find("expired with 0 of 1 approval after 30s") != std::string::npos);
  CHECK(world.rollout.state == RolloutState::rolled_back);
  bool notified = false;
  for (const auto& line : world.records.notified)
    notified |= line.rfind("approval.expired", 0) == 0;
  CHECK(notified);
}

TEST_CASE("an approved region waits for its maintenance window", "[rollout][gate]") {
  std::vector<PrivateKey> bw = {new_key()};
  World world({gated("bw", 1, bw, 1)});
  // Mondays 13:30-14:00 in Berlin (12:30-13:00 UTC in winter): it is 12:00 UTC now.
  pw::fleet::Window window;
  window.days = {0};
  window.start_minute = 13 * 60 + 30;
  window.end_minute = 14 * 60;
  window.timezone = "Europe/Berlin";
  world.policy.regions[0].windows = {window};
  world.clock.t = kMondayNoon;
  world.start();
  tick_n(world, 2);
  world.records.documents["bw"].push_back(sign(world, bw[0], "bw"));
  tick_n(world, 3);
  const auto& gate = world.at("bw").gate;
  CHECK(world.at("bw").state == RegionState::awaiting_approval);
  CHECK(gate.value("waiting_for", "") == "window");
  CHECK(gate.value("window_opens_at", Millis{0}) == kMondayNoon + 30 * 60 * 1000);
  world.clock.t = kMondayNoon + 30 * 60 * 1000;
  tick_n(world, 1);
  CHECK(world.at("bw").state == RegionState::provisioning);
}

TEST_CASE("an honoured emergency takes the policy's shortcuts, each audited", "[rollout][gate]") {
  std::vector<PrivateKey> bw = {new_key(), new_key()};
  std::vector<PrivateKey> by = {new_key()};
  World world({gated("bw", 1, bw, 2), gated("by", 2, by, 1)});
  world.policy.emergency_single_wave = true;
  world.policy.regions[0].emergency_approvals = 1;  // one of two in an emergency
  world.policy.regions[1].emergency_approvals = 0;  // none
  pw::fleet::Window closed;
  closed.days = {6};
  closed.start_minute = 0;
  closed.end_minute = 60;
  closed.timezone = "UTC";
  world.policy.regions[1].windows = {closed};
  world.policy.regions[1].emergency_skips_windows = true;
  world.clock.t = kMondayNoon;
  world.start({}, "emergency");
  CHECK(world.at("by").wave == 1);  // one wave
  CHECK(audited(world, "rollout.shortcut ok"));
  tick_n(world, 2);
  CHECK(world.at("by").state != RegionState::awaiting_approval);  // no approval, no window
  CHECK(world.at("bw").state == RegionState::awaiting_approval);
  world.records.documents["bw"].push_back(sign(world, bw[1], "bw"));
  world.run();
  CHECK(world.rollout.state == RolloutState::succeeded);
  auto shortcuts = world.at("bw").gate["shortcuts"].dump();
  CHECK(shortcuts.find("approvals: 1 instead of 2") != std::string::npos);
  CHECK(world.at("by").gate["shortcuts"].dump().find("maintenance windows ignored") !=
        std::string::npos);
}

TEST_CASE("a routine release of the same policy takes none of the shortcuts", "[rollout][gate]") {
  std::vector<PrivateKey> by = {new_key()};
  World world({gated("by", 1, by, 1)});
  world.policy.regions[0].emergency_approvals = 0;
  world.start();
  tick_n(world, 5);
  CHECK(world.at("by").state == RegionState::awaiting_approval);
  CHECK(world.at("by").gate["shortcuts"].empty());
}
