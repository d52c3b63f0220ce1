#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "orchestrator/providers/local.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using pw::Errc;
using pw::providers::LocalOptions;
using pw::providers::LocalProvider;
using pw::providers::ProvisionContext;
using pw::providers::Server;
using pw::providers::ServerRequest;

namespace {

struct Fixture {
  pw::test::TempDir dir;
  ProvisionContext context;

  Fixture() {
    pw::test::write_file(dir / "ca.pem", "not really a CA\n");
    pw::test::write_file(dir / "root.json", "{}\n");
    // Nothing listens on port 1: a real agent fails to enroll and exits 1 at once.
    context = {"https://127.0.0.1:1", dir / "ca.pem", dir / "root.json", "patchwave-controller"};
  }

  // A stand-in agent that runs until SIGTERM (or, with ignore_term, until SIGKILL).
  std::string fake_agent(bool ignore_term = false) {
    std::string path = dir / (ignore_term ? "stubborn/patchwave-agent" : "bin/patchwave-agent");
    // It touches ./ready (its server directory) once its trap is set.
    pw::test::write_file(path, std::string("#!/bin/sh\n") +
                                   (ignore_term ? "trap '' TERM\n" : "trap 'exit 0' TERM\n") +
                                   ": > ready\nwhile :; do sleep 0.05; done\n");
    ::chmod(path.c_str(), 0755);
    return path;
  }

  LocalProvider provider(const std::string& agent, int region_number = 0) {
    LocalOptions options;
    options.base_dir = dir / "servers";
    options.agent_binary = agent;
    options.region_number = region_number;
    options.stop_grace = std::chrono::milliseconds(3000);
    return LocalProvider(options);
  }
};

std::vector<ServerRequest> requests(const std::string& region, int count) {
  std::vector<ServerRequest> out;
  for (int i = 0; i < count; ++i) {
    out.push_back({"r1", region, i, "", "token-" + std::to_string(i)});
  }
  return out;
}

template <typename Predicate>
bool eventually(Predicate predicate) {
  for (int i = 0; i < 300; ++i) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return predicate();
}

}  // namespace

TEST_CASE("Local addresses are 127.R.S.N with N never 0 or 255") {
  using pw::providers::local_address;
  CHECK(*local_address(7, 0) == "127.7.0.1");
  CHECK(*local_address(7, 253) == "127.7.0.254");
  CHECK(*local_address(7, 254) == "127.7.1.1");
  CHECK(*local_address(7, 65023) == "127.7.255.254");
  CHECK_FALSE(local_address(7, 65024).ok());
  CHECK_FALSE(local_address(7, -1).ok());
  CHECK_FALSE(local_address(0, 1).ok());
  int r = pw::providers::local_region_number("eu-west");
  CHECK(r == pw::providers::local_region_number("eu-west"));
  CHECK(r >= 1);
  CHECK(r <= 254);
  CHECK(pw::providers::server_name("eu-west", "r1", 3) == "eu-west-r1-3");
}

TEST_CASE("The local provider makes fresh directories and starts the real agent in each") {
  Fixture f;
  auto provider = f.provider(PW_AGENT_BINARY);
  auto servers = provider.provision("eu-west", requests("eu-west", 3), f.context);
  REQUIRE(servers.ok());
  REQUIRE(servers->size() == 3);
  std::string r = std::to_string(pw::providers::local_region_number("eu-west"));
  for (int i = 0; i < 3; ++i) {
    const Server& server = (*servers)[static_cast<std::size_t>(i)];
    std::string name = "eu-west-r1-" + std::to_string(i);
    std::string home = f.dir / ("servers/" + name);
    CHECK(server.name == name);
    CHECK(server.region == "eu-west");
    CHECK(server.address == "127." + r + ".0." + std::to_string(i + 1) + ":7443");
    CHECK(server.state == "running");
    CHECK(server.details["dir"] == home);
    auto config = nlohmann::json::parse(pw::test::read_file(home + "/agent.json"));
    CHECK(config["name"] == name);
    CHECK(config["state_dir"] == home + "/state");
    CHECK(config["listen"] == server.address);
    CHECK(config["controller_url"] == "https://127.0.0.1:1");
    CHECK(config["controller_ca"] == home + "/controller-ca.pem");
    CHECK(config["controller_name"] == "patchwave-controller");
    CHECK(config["pinned_root"] == home + "/root.json");
    CHECK(config["enrollment_token_file"] == home + "/token");
    CHECK(config["certificate_ips"] ==
          nlohmann::json::array({"127." + r + ".0." + std::to_string(i + 1)}));
    CHECK(config["log_format"] == "json");
    CHECK(pw::test::read_file(home + "/token") == "token-" + std::to_string(i));
    struct stat info {};
    REQUIRE(::stat((home + "/token").c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    CHECK(pw::test::read_file(home + "/controller-ca.pem") == "not really a CA\n");
    CHECK(std::stol(pw::test::read_file(home + "/agent.pid")) == server.details["pid"]);
    // The agent cannot enroll (nothing at the controller URL): it logs that and exits.
    CHECK(eventually([&] {
      return fs::exists(home + "/agent.log") &&
             pw::test::read_file(home + "/agent.log").find("start_failed") != std::string::npos;
    }));
  }
  auto listed = provider.list("eu-west");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 3);
  CHECK((*listed)[2].name == "eu-west-r1-2");
  CHECK(eventually([&] { return (*provider.list("eu-west"))[0].state == "stopped"; }));
  CHECK(provider.list("us-east")->empty());

  for (const auto& server : *listed) REQUIRE(provider.decommission(server).ok());
  CHECK(fs::is_empty(f.dir / "servers"));
  CHECK(provider.list("eu-west")->empty());
  CHECK(provider.decommission((*listed)[0]).ok());  // gone already
}

TEST_CASE("Provisioning the same server twice returns the running one") {
  Fixture f;
  auto provider = f.provider(f.fake_agent());
  auto first = provider.provision("eu", requests("eu", 1), f.context);
  REQUIRE(first.ok());
  auto second = provider.provision("eu", requests("eu", 1), f.context);
  REQUIRE(second.ok());
  CHECK((*second)[0].provider_id == (*first)[0].provider_id);
  CHECK((*second)[0].state == "running");
  auto listed = provider.list("eu");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].state == "running");

  long pid = (*first)[0].details["pid"].get<long>();
  std::string config = f.dir / "servers/eu-r1-0/agent.json";
  CHECK(pw::providers::local_agent_alive(pid, config));
  REQUIRE(provider.decommission((*listed)[0]).ok());
  CHECK_FALSE(pw::providers::local_agent_alive(pid, config));
  CHECK_FALSE(fs::exists(f.dir / "servers/eu-r1-0"));
}

TEST_CASE("A leftover directory without a live agent is removed and made again") {
  Fixture f;
  auto provider = f.provider(PW_AGENT_BINARY);
  auto first = provider.provision("eu", requests("eu", 1), f.context);
  REQUIRE(first.ok());
  std::string home = f.dir / "servers/eu-r1-0";
  CHECK(eventually([&] { return (*provider.list("eu"))[0].state == "stopped"; }));
  pw::test::write_file(home + "/state/leftover", "old key material");
  auto second = provider.provision("eu", requests("eu", 1), f.context);
  REQUIRE(second.ok());
  CHECK((*second)[0].provider_id != (*first)[0].provider_id);
  CHECK_FALSE(fs::exists(home + "/state/leftover"));
  REQUIRE(provider.decommission((*second)[0]).ok());
}

TEST_CASE("Decommission never signals an unrelated process whose pid is in agent.pid") {
  Fixture f;
  auto provider = f.provider(PW_AGENT_BINARY);
  auto servers = provider.provision("eu", requests("eu", 1), f.context);
  REQUIRE(servers.ok());
  std::string home = f.dir / "servers/eu-r1-0";
  CHECK(eventually([&] { return (*provider.list("eu"))[0].state == "stopped"; }));
  // Named like an agent, but not this directory's agent.
  pid_t other = ::fork();
  REQUIRE(other >= 0);
  if (other == 0) {
    ::setpgid(0, 0);  // so that the test can end it with its child
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl("/bin/sh", "/bin/sh", "-c", "sleep 30; :", "patchwave-agent", nullptr);
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  fs::remove(home + "/agent.pid");
  pw::test::write_file(home + "/agent.pid", std::to_string(other) + "\n");
  CHECK((*provider.list("eu"))[0].state == "stopped");
  REQUIRE(provider.decommission((*servers)[0]).ok());
  CHECK_FALSE(fs::exists(home));
  int status = 0;
  CHECK(::waitpid(other, &status, WNOHANG) == 0);  // still running
  ::kill(-other, SIGKILL);
  ::waitpid(other, &status, 0);
}

TEST_CASE("Decommission kills an agent that ignores SIGTERM after the grace period") {
  Fixture f;
  LocalOptions options;
  options.base_dir = f.dir / "servers";
  options.agent_binary = f.fake_agent(true);
  options.stop_grace = std::chrono::milliseconds(300);
  LocalProvider provider(options);
  auto servers = provider.provision("eu", requests("eu", 1), f.context);
  REQUIRE(servers.ok());
  long pid = (*servers)[0].details["pid"].get<long>();
  std::string config = f.dir / "servers/eu-r1-0/agent.json";
  REQUIRE(eventually([&] { return fs::exists(f.dir / "servers/eu-r1-0/ready"); }));
  CHECK(pw::providers::local_agent_alive(pid, config));
  auto started = std::chrono::steady_clock::now();
  REQUIRE(provider.decommission((*servers)[0]).ok());
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
  CHECK_FALSE(pw::providers::local_agent_alive(pid, config));
  CHECK_FALSE(fs::exists(f.dir / "servers/eu-r1-0"));
}

TEST_CASE("The local provider refuses bad names, regions and taken addresses") {
  Fixture f;
  auto provider = f.provider(f.fake_agent(), 9);
  auto upper = provider.provision("EU", requests("EU", 1), f.context);
  REQUIRE_FALSE(upper.ok());
  CHECK(upper.error().code == Errc::invalid_argument);
  auto mixed = provider.provision("eu", requests("us", 1), f.context);
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.error().code == Errc::invalid_argument);
  auto unnamed = f.provider("/bin/sleep").provision("eu", requests("eu", 1), f.context);
  REQUIRE_FALSE(unnamed.ok());
  CHECK_THAT(unnamed.error().to_string(), Catch::Contains("must contain 'patchwave-agent'"));
  auto no_token = provider.provision("eu", {{"r1", "eu", 0, "", ""}}, f.context);
  REQUIRE_FALSE(no_token.ok());
  CHECK_FALSE(fs::exists(f.dir / "servers/eu-r1-0"));

  // A fixed region number for two regions: index 0 of both wants 127.9.0.1; the second
  // takes the next free address instead of sharing it.
  auto eu = provider.provision("eu", requests("eu", 1), f.context);
  REQUIRE(eu.ok());
  CHECK((*eu)[0].address == "127.9.0.1:7443");
  auto us = provider.provision("us", requests("us", 1), f.context);
  REQUIRE(us.ok());
  CHECK((*us)[0].address == "127.9.0.2:7443");
  REQUIRE(provider.decommission((*us)[0]).ok());

  Server wrong_region = (*eu)[0];
  wrong_region.region = "us";
  auto refused = provider.decommission(wrong_region);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::conflict);
  REQUIRE(provider.decommission((*eu)[0]).ok());
}
