#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/crypto/x509.hpp"
#include "orchestrator/ca/ca.hpp"
#include "tests/support/csr.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_store.hpp"

namespace x509 = pw::crypto::x509;
using namespace std::chrono_literals;
using pw::test::csr_for;

namespace {}  // namespace

TEST_CASE("the controller CA is created once, with its key 0600, and loaded again") {
  pw::test::TempDir dir;
  auto ca = pw::ca::ControllerCa::init(dir / "ca", "Patchwave CA");
  REQUIRE(ca.ok());
  struct stat info {};
  REQUIRE(::stat((dir / "ca/ca.key").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto again = pw::ca::ControllerCa::init(dir / "ca", "Patchwave CA");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == pw::Errc::conflict);
  auto loaded = pw::ca::ControllerCa::load(dir / "ca");
  REQUIRE(loaded.ok());
  CHECK(loaded->certificate_pem() == ca->certificate_pem());
}

TEST_CASE("operator certificates carry their role, and only the three kinds of role exist") {
  pw::test::TempDir dir;
  auto ca = pw::ca::ControllerCa::init(dir / "ca", "Patchwave CA");
  REQUIRE(ca.ok());
  auto alice = ca->issue_operator("alice", "approver:bw", 24h);
  REQUIRE(alice.ok());
  CHECK(x509::verify_certificate(alice->certificate_pem, ca->certificate_pem()).ok());
  auto info = x509::read_certificate(alice->certificate_pem);
  REQUIRE(info.ok());
  CHECK(info->names.common_name == "alice");
  auto role = pw::ca::role_of(*info);
  REQUIRE(role.ok());
  CHECK(*role == "approver:bw");
  CHECK_THAT(ca->issue_operator("mallory", "root", 24h).error().message,
             Catch::Contains("must be release-engineer, approver:REGION or viewer"));
  CHECK_FALSE(ca->issue_operator("m", "approver:", 24h).ok());

  auto controller = ca->issue_controller("patchwave-controller", {}, {"127.0.0.1"});
  REQUIRE(controller.ok());
  auto controller_info = x509::read_certificate(controller->certificate_pem);
  REQUIRE(controller_info.ok());
  CHECK(controller_info->names.dns == std::vector<std::string>{"patchwave-controller"});
  auto no_role = pw::ca::role_of(*controller_info);
  REQUIRE_FALSE(no_role.ok());
  CHECK(no_role.error().code == pw::Errc::permission);
}

TEST_CASE("an enrollment token works once, for its server, before it expires") {
  pw::test::TempDir dir;
  auto ca = pw::ca::ControllerCa::init(dir / "ca", "Patchwave CA");
  REQUIRE(ca.ok());
  auto store = pw::store::Store::open(pw::test::fresh_store(dir));
  REQUIRE(store.ok());
  auto now = std::chrono::system_clock::now();
  pw::ca::Enrollment enrollment(**store, *ca, [&now] { return now; });

  auto token = enrollment.create_token("bw-r1-0", 10min, "controller");
  REQUIRE(token.ok());
  CHECK(token->size() == 64);

  auto wrong_server = enrollment.enroll("by-r1-0", *token, csr_for("by-r1-0"), {});
  REQUIRE_FALSE(wrong_server.ok());
  CHECK(wrong_server.error().code == pw::Errc::permission);

  auto cert = enrollment.enroll("bw-r1-0", *token, csr_for("bw-r1-0"), {"127.1.0.1"});
  REQUIRE(cert.ok());
  auto info = x509::read_certificate(*cert);
  REQUIRE(info.ok());
  CHECK(info->names.common_name == "bw-r1-0");
  CHECK(info->names.ips == std::vector<std::string>{"127.1.0.1"});
  CHECK(x509::verify_certificate(*cert, ca->certificate_pem()).ok());

  auto reused = enrollment.enroll("bw-r1-0", *token, csr_for("bw-r1-0"), {});
  REQUIRE_FALSE(reused.ok());
  CHECK(reused.error().code == pw::Errc::permission);

  auto late = enrollment.create_token("bw-r1-1", 10min, "controller");
  REQUIRE(late.ok());
  now += 11min;
  CHECK_FALSE(enrollment.enroll("bw-r1-1", *late, csr_for("bw-r1-1"), {}).ok());
  CHECK_FALSE(enrollment.enroll("bw-r1-1", "00" + late->substr(2), csr_for("bw-r1-1"), {}).ok());

  auto fresh = enrollment.create_token("bw-r1-2", 10min, "controller");
  REQUIRE(fresh.ok());
  auto garbage = enrollment.enroll("bw-r1-2", *fresh, "not a csr", {});
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == pw::Errc::invalid_argument);

  // Every refusal is audited with its reason; no token ever appears in the log.
  auto events = (*store)->audit().read();
  REQUIRE(events.ok());
  std::vector<std::string> outcomes;
  for (const auto& event : *events) {
    CHECK(event.inputs.dump().find(*token) == std::string::npos);
    if (event.action == "enroll") outcomes.push_back(event.outcome);
  }
  REQUIRE(outcomes.size() == 6);
  CHECK_THAT(outcomes[0], Catch::Contains("refused: token bound to another server"));
  CHECK(outcomes[1] == "ok");
  CHECK_THAT(outcomes[2], Catch::Contains("refused: token already used"));
  CHECK_THAT(outcomes[3], Catch::Contains("refused: token expired"));
  CHECK_THAT(outcomes[4], Catch::Contains("refused: unknown token"));
  CHECK_THAT(outcomes[5], Catch::Contains("refused: bad certificate request"));
  CHECK((*store)->audit().verify().value().intact);
}

TEST_CASE("what the caller records with an enrollment commits with it, or neither does") {
  pw::test::TempDir dir;
  auto ca = pw::ca::ControllerCa::init(dir / "ca", "Patchwave CA");
  REQUIRE(ca.ok());
  auto store = pw::store::Store::open(pw::test::fresh_store(dir));
  REQUIRE(store.ok());
  pw::ca::Enrollment enrollment(**store, *ca);
  auto token = enrollment.create_token("bw-r1-0", 10min, "controller");
  REQUIRE(token.ok());
  auto events = [&] { return (*store)->audit().read(1, 1000)->size(); };
  std::size_t before = events();

  // The caller's own write fails: no certificate, the token is still unused, no event.
  std::string seen;
  auto failed = enrollment.enroll("bw-r1-0", *token, csr_for("bw-r1-0"), {},
                                  [&](const std::string& fingerprint) -> pw::Status {
                                    seen = fingerprint;
                                    return pw::make_error(pw::Errc::io, "disk full");
                                  });
  REQUIRE_FALSE(failed.ok());
  CHECK(seen.size() == 64);
  CHECK(events() == before);

  // Then it works: the fingerprint handed over is the certificate's.
  auto cert = enrollment.enroll("bw-r1-0", *token, csr_for("bw-r1-0"), {},
                                [&](const std::string& fingerprint) -> pw::Status {
                                  seen = fingerprint;
                                  return pw::Ok{};
                                });
  REQUIRE(cert.ok());
  CHECK(seen == *x509::certificate_sha256(*cert));
  CHECK(events() == before + 1);
}
