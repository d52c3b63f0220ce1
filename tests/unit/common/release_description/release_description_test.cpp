#include <catch2/catch.hpp>

#include "common/release_description/release_description.hpp"

namespace release = pw::release;
namespace json = pw::json;
using pw::Errc;

namespace {

release::SemVer v(const char* text) {
  auto parsed = release::SemVer::parse(text);
  REQUIRE(parsed.ok());
  return *parsed;
}

json::Value good() {
  return *json::parse(R"({"app": "demo-service", "version": "1.0.1", "cves": ["CVE-2026-12345"],
    "urgency": "emergency", "run": {"argv": ["bin/demo", "--port", "8080"], "env": {"A": "b"}},
    "health": {"kind": "http", "port": 8080, "path": "/healthz", "successes": 2}})");
}

}  // namespace

TEST_CASE("semantic versions order by semver precedence", "[release]") {
  // semver.org's example chain.
  const char* chain[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                         "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                         "1.0.0-rc.1",  "1.0.0",         "1.0.1",
                         "1.1.0",       "2.0.0",         "10.0.0"};
  for (std::size_t i = 0; i + 1 < std::size(chain); ++i) {
    INFO(chain[i] << " < " << chain[i + 1]);
    CHECK(v(chain[i]) < v(chain[i + 1]));
  }
  CHECK(v("1.0.0+build.5") == v("1.0.0+other"));
  for (const char* bad :
       {"1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "v1.0.0", "1.a.0", ""}) {
    INFO(bad);
    auto parsed = release::SemVer::parse(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().message.find("is not a semantic version") != std::string::npos);
  }
}

TEST_CASE("health shorthand", "[release]") {
  auto http = release::parse_health_shorthand("http:8080/healthz");
  REQUIRE(http.ok());
  CHECK(http->kind == release::HealthCheck::Kind::http);
  CHECK(http->port == 8080);
  CHECK(http->path == "/healthz");
  auto tcp = release::parse_health_shorthand("tcp:9000");
  REQUIRE(tcp.ok());
  CHECK(tcp->port == 9000);
  auto cmd = release::parse_health_shorthand("command:bin/check --fast");
  REQUIRE(cmd.ok());
  CHECK(cmd->argv == std::vector<std::string>{"bin/check", "--fast"});
  for (const char* bad :
       {"http:8080", "http:0/x", "tcp:70000", "tcp:80/x", "udp:53", "command:", "8080"}) {
    INFO(bad);
    CHECK_FALSE(release::parse_health_shorthand(bad).ok());
  }
}

TEST_CASE("a release description round-trips through JSON", "[release]") {
  auto parsed = release::from_json(good(), "r");
  REQUIRE(parsed.ok());
  CHECK(parsed->app == "demo-service");
  CHECK(parsed->urgency == release::Urgency::emergency);
  CHECK(parsed->health.successes == 2);
  CHECK(parsed->health.interval_ms == 1000);
  auto again = release::from_json(release::to_json(*parsed), "r");
  REQUIRE(again.ok());
  CHECK(release::to_json(*again) == release::to_json(*parsed));

  auto none = release::from_custom(json::Value::object(), "t");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("every malformed field is named", "[release]") {
  struct Case {
    const char* pointer;
    json::Value value;
    const char* expected;
  };
  const Case cases[] = {
      {"/app", "Demo", "field 'app'"},
      {"/version", "1.0", "field 'version'"},
      {"/cves", json::Value::array({"CVE-26-1"}), "field 'cves'"},
      {"/urgency", "soon", "field 'urgency'"},
      {"/run/argv", json::Value::array(), "field 'argv': must not be empty"},
      {"/run/argv", json::Value::array({"/bin/sh"}), "argv[0] must be a path inside the release"},
      {"/run/argv", json::Value::array({"../x"}), "argv[0] must be a path inside the release"},
      {"/run/env", json::Value{{"A", 1}}, "field 'env'"},
      {"/health/kind", "udp", "field 'kind'"},
      {"/health/port", 0, "field 'port'"},
      {"/health/path", "healthz", "field 'path'"},
      {"/health/interval_ms", 5, "field 'interval_ms': must be between 10 and 3600000"},
      {"/health/successes", 0, "field 'successes'"},
  };
  for (const auto& c : cases) {
    json::Value doc = good();
    doc[json::Value::json_pointer(c.pointer)] = c.value;
    auto parsed = release::from_custom(json::Value{{"release", doc}}, "app/1.0/x.tar.gz");
    INFO(c.pointer);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == Errc::parse);
    CHECK(parsed.error().message.find("target 'app/1.0/x.tar.gz' custom.release") !=
          std::string::npos);
    CHECK(parsed.error().message.find(c.expected) != std::string::npos);
  }
}
