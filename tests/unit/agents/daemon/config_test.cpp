#include "agents/daemon/config.hpp"

#include <catch2/catch.hpp>
#include <map>

#include "tests/support/temp_dir.hpp"

using pw::agent::AgentConfig;
using pw::agent::load_config;

namespace {

auto env_of(const std::map<std::string, std::string>& values) {
  return [values](const char* name) -> const char* {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

const char* kValid = R"({"name": "eu-west-7", "state_dir": "/var/lib/pw",
  "listen": "127.0.0.1:7443", "controller_url": "https://c:8443",
  "controller_ca": "/etc/ca.pem", "pinned_root": "/etc/root.json",
  "certificate_ips": ["127.0.0.1", "10.0.0.7"], "stop_grace_ms": 5000})";

}  // namespace

TEST_CASE("an agent configuration file is read, with environment variables over it") {
  pw::test::TempDir dir;
  pw::test::write_file(dir / "agent.json", kValid);
  auto config = load_config(dir / "agent.json", env_of({{"PATCHWAVE_AGENT_LISTEN", "0.0.0.0:9000"},
                                                        {"PATCHWAVE_AGENT_STOP_GRACE_MS", "250"}}));
  REQUIRE(config.ok());
  CHECK(config->name == "eu-west-7");
  CHECK(config->listen == "0.0.0.0:9000");
  CHECK(config->stop_grace_ms == 250);
  CHECK(config->certificate_ips == std::vector<std::string>{"127.0.0.1", "10.0.0.7"});
  CHECK(pw::agent::validate(*config).ok());
  auto endpoint = config->listen_endpoint();
  REQUIRE(endpoint.ok());
  CHECK(endpoint->first == "0.0.0.0");
  CHECK(endpoint->second == 9000);
}

TEST_CASE("agent configuration errors name the key and the rule") {
  pw::test::TempDir dir;
  auto error_of = [&](const std::string& text) {
    pw::test::write_file(dir / "agent.json", text);
    auto config = load_config(dir / "agent.json", env_of({}));
    if (!config.ok()) return config.error().to_string();
    auto valid = pw::agent::validate(*config);
    return valid.ok() ? std::string("no error") : valid.error().to_string();
  };
  CHECK_THAT(error_of(R"({"colour": "blue"})"), Catch::Contains("unknown key 'colour'"));
  CHECK_THAT(error_of(R"({"stop_grace_ms": "soon"})"),
             Catch::Contains("'stop_grace_ms' must be a non-negative integer"));
  CHECK_THAT(error_of(R"({"name": "x", "name": "y"})"), Catch::Contains("duplicate"));
  CHECK_THAT(error_of(R"({"name": "a"})"), Catch::Contains("'state_dir' is required"));
  std::string bad_name = kValid;
  bad_name.replace(bad_name.find("eu-west-7"), 9, "EU west/7");
  CHECK_THAT(error_of(bad_name), Catch::Contains("name: 'EU west/7' must be"));
  std::string bad_listen = kValid;
  bad_listen.replace(bad_listen.find("127.0.0.1:7443"), 14, "localhost");
  CHECK_THAT(error_of(bad_listen), Catch::Contains("must be ADDRESS:PORT"));
  auto env_error = load_config("", env_of({{"PATCHWAVE_AGENT_STOP_GRACE_MS", "-1"}}));
  REQUIRE_FALSE(env_error.ok());
  CHECK_THAT(env_error.error().to_string(), Catch::Contains("PATCHWAVE_AGENT_STOP_GRACE_MS"));
  CHECK_THAT(load_config(dir / "missing.json", env_of({})).error().to_string(),
             Catch::Contains("missing.json: cannot open"));
}
