// Decommissioning against enrollment: a server taken down while its agent's enrollment
// is still on its way must stay down (found by the chaos runs: a full disk during
// provisioning, a rollback, and a late enrollment that marked the server enrolled again).
#include <catch2/catch.hpp>

#include "common/crypto/x509.hpp"
#include "orchestrator/ca/ca.hpp"
#include "orchestrator/controller/servers.hpp"
#include "tests/support/csr.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_store.hpp"

namespace x509 = pw::crypto::x509;
using namespace std::chrono_literals;
using pw::test::csr_for;

namespace {

std::string state_of(pw::store::Store& store, const std::string& name) {
  auto query = store.db().prepare("SELECT state FROM servers WHERE name = ?1");
  REQUIRE(query.ok());
  query->bind(1, name);
  auto row = query->step();
  REQUIRE(row.ok());
  return *row ? query->text(0) : "(none)";
}

void record_server(pw::store::Store& store, const std::string& name, const std::string& state) {
  auto insert = store.db().prepare(
      "INSERT INTO servers (name, region, rollout_id, address, provider, provider_id, state, "
      "created_at, updated_at) VALUES (?1, 'bw', 'r1', '127.0.0.1:1', 'local', '', ?2, "
      "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')");
  REQUIRE(insert.ok());
  insert->bind(1, name).bind(2, state);
  REQUIRE(insert->run().ok());
}

}  // namespace

TEST_CASE("a decommissioned server cannot enroll or be marked enrolled again") {
  pw::test::TempDir dir;
  auto ca = pw::ca::ControllerCa::init(dir / "ca", "Patchwave CA");
  REQUIRE(ca.ok());
  auto opened = pw::store::Store::open(pw::test::fresh_store(dir));
  REQUIRE(opened.ok());
  auto& store = **opened;
  pw::controller::Config config;
  config.servers_dir = dir / "servers";
  config.agent_binary = dir / "patchwave-agent";  // never started: nothing is provisioned
  auto policy =
      pw::json::Value::parse(R"({"regions": [{"name": "bw", "provider": {"kind": "local"}}]})");
  pw::controller::Servers servers(config, store, *ca);
  pw::ca::Enrollment enrollment(store, *ca);

  auto token = enrollment.create_token("bw-r1-0", 10min, "controller");
  REQUIRE(token.ok());
  record_server(store, "bw-r1-0", "provisioned");
  REQUIRE(servers.decommission(policy, "bw-r1-0", "controller").ok());
  CHECK(state_of(store, "bw-r1-0") == "decommissioned");

  // The agent's enrollment arrives after the decommission: refused, state unchanged.
  auto late = enrollment.enroll("bw-r1-0", *token, csr_for("bw-r1-0"), {});
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == pw::Errc::permission);
  REQUIRE(servers.mark_enrolled("bw-r1-0", std::string(64, 'c')).ok());
  CHECK(state_of(store, "bw-r1-0") == "decommissioned");

  // A server the store never recorded (its provisioning was cut short) loses its token too.
  auto unrecorded = enrollment.create_token("bw-r1-1", 10min, "controller");
  REQUIRE(unrecorded.ok());
  REQUIRE(servers.decommission_unrecorded(policy, "bw", "bw-r1-1", "controller").ok());
  CHECK_FALSE(enrollment.enroll("bw-r1-1", *unrecorded, csr_for("bw-r1-1"), {}).ok());

  // The normal path still works: provisioned -> enrolled.
  auto fresh = enrollment.create_token("bw-r1-2", 10min, "controller");
  REQUIRE(fresh.ok());
  record_server(store, "bw-r1-2", "provisioned");
  REQUIRE(enrollment.enroll("bw-r1-2", *fresh, csr_for("bw-r1-2"), {}).ok());
  REQUIRE(servers.mark_enrolled("bw-r1-2", std::string(64, 'c')).ok());
  CHECK(state_of(store, "bw-r1-2") == "enrolled");

  // The revocation is in the decommission's audit event.
  auto events = store.audit().read();
  REQUIRE(events.ok());
  bool audited = false;
  for (const auto& event : *events) {
    if (event.action == "servers.decommission" && event.inputs.value("server", "") == "bw-r1-0") {
      audited = event.inputs.value("enrollment_tokens_revoked", std::int64_t{0}) == 1;
    }
  }
  CHECK(audited);
}
