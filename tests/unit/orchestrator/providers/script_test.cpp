#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "orchestrator/providers/local.hpp"
#include "orchestrator/providers/script.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using pw::Errc;
using pw::providers::ProvisionContext;
using pw::providers::ScriptOptions;
using pw::providers::ScriptProvider;
using pw::providers::Server;
using pw::providers::ServerRequest;

namespace {

std::string write_script(const pw::test::TempDir& dir, const std::string& name,
                         const std::string& body) {
  std::string path = dir / name;
  pw::test::write_file(path, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
  return path;
}

ScriptProvider provider_for(const std::string& script, int timeout_seconds = 10) {
  ScriptOptions options;
  options.command = {script};
  options.timeout = std::chrono::seconds(timeout_seconds);
  options.params = {{"project", "demo"}};
  return ScriptProvider(options);
}

std::vector<ServerRequest> two_requests() {
  return {{"r1", "eu", 0, "", "token-zero"}, {"r1", "eu", 1, "", "token-one"}};
}

ProvisionContext context() {
  return {"https://127.0.0.1:1", "/nonexistent/ca.pem", "/nonexistent/root.json",
          "patchwave-controller"};
}

// Gone or a zombie (the orphan is reaped by init, or not, depending on the machine).
bool process_gone(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  return close == std::string::npos || stat.substr(close + 2, 1) == "Z";
}

long read_number(const std::string& path) {
  std::ifstream in(path);
  long value = 0;
  in >> value;
  return value;
}

constexpr const char* kGoodAnswer =
    R"({"servers": [{"name": "eu-r1-1", "address": "10.0.0.2:7443", "provider_id": "i-2",)"
    R"( "state": "running", "zone": "b"},)"
    R"( {"name": "eu-r1-0", "address": "10.0.0.1:7443", "provider_id": "i-1",)"
    R"( "state": "running", "details": {"size": "small"}}]})";

}  // namespace

TEST_CASE("A provider script gets the request on stdin and its answer becomes the servers") {
  pw::test::TempDir dir;
  std::string script = write_script(dir, "provider",
                                    "cat > '" + (dir / "request.json") + "'\nenv > '" +
                                        (dir / "env.txt") + "'\necho '" + kGoodAnswer + "'\n");
  auto provider = provider_for(script);
  auto servers = provider.provision("eu", two_requests(), context());
  REQUIRE(servers.ok());
  REQUIRE(servers->size() == 2);
  CHECK((*servers)[0].name == "eu-r1-0");  // in the order of the requests
  CHECK((*servers)[0].address == "10.0.0.1:7443");
  CHECK((*servers)[0].provider_id == "i-1");
  CHECK((*servers)[0].region == "eu");
  CHECK((*servers)[0].details["size"] == "small");
  CHECK((*servers)[1].details["zone"] == "b");  // unknown fields are kept in details

  auto request = nlohmann::json::parse(pw::test::read_file(dir / "request.json"));
  CHECK(request["action"] == "provision");
  CHECK(request["region"] == "eu");
  CHECK(request["servers"][1]["name"] == "eu-r1-1");
  CHECK(request["servers"][1]["token"] == "token-one");
  CHECK(request["servers"][1]["index"] == 1);
  CHECK(request["context"]["controller_url"] == "https://127.0.0.1:1");
  CHECK(request["params"]["project"] == "demo");
  std::string env = pw::test::read_file(dir / "env.txt");
  CHECK(env.find("PATH=/usr/bin:/bin") != std::string::npos);
  CHECK(env.find("HOME=") == std::string::npos);

  auto listed = provider.list("eu");
  REQUIRE(listed.ok());
  CHECK(listed->size() == 2);
}

TEST_CASE("Decommission through a script accepts {} or an empty answer") {
  pw::test::TempDir dir;
  Server server{"eu-r1-0", "eu", "10.0.0.1:7443", "i-1", "running", {}};
  auto empty = provider_for(write_script(dir, "quiet", "cat > /dev/null\n"));
  CHECK(empty.decommission(server).ok());
  auto braces = provider_for(
      write_script(dir, "braces", "cat > '" + (dir / "request.json") + "'\necho '{}'\n"));
  REQUIRE(braces.decommission(server).ok());
  auto request = nlohmann::json::parse(pw::test::read_file(dir / "request.json"));
  CHECK(request["action"] == "decommission");
  CHECK(request["servers"][0]["provider_id"] == "i-1");
}

TEST_CASE("A provider script that hangs is killed with its children after the timeout") {
  pw::test::TempDir dir;
  std::string script =
      write_script(dir, "hangs", "sleep 60 &\necho $! > '" + (dir / "child.pid") + "'\nsleep 60\n");
  auto provider = provider_for(script, 1);
  auto started = std::chrono::steady_clock::now();
  auto servers = provider.list("eu");
  auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(servers.ok());
  CHECK(servers.error().code == Errc::io);
  CHECK_THAT(servers.error().to_string(),
             Catch::Contains("no answer within 1 s") && Catch::Contains(script));
  CHECK(elapsed < std::chrono::seconds(4));
  long child = read_number(dir / "child.pid");
  REQUIRE(child > 1);
  for (int i = 0; i < 100 && !process_gone(child); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(process_gone(child));
}

TEST_CASE("A provider script that exits 2 reports the code and the end of its stderr") {
  pw::test::TempDir dir;
  std::string script = write_script(dir, "fails",
                                    "cat > /dev/null\n"
                                    "i=0; while [ $i -lt 300 ]; do echo 'noise line' >&2; "
                                    "i=$((i+1)); done\n"
                                    "echo 'quota exceeded in eu' >&2\nexit 2\n");
  auto servers = provider_for(script).provision("eu", two_requests(), context());
  REQUIRE_FALSE(servers.ok());
  CHECK(servers.error().code == Errc::io);
  std::string message = servers.error().to_string();
  CHECK_THAT(message, Catch::Contains(script) && Catch::Contains("exited with code 2") &&
                          Catch::Contains("quota exceeded in eu"));
  CHECK(message.size() < 1500);  // only the last 1 KiB of stderr

  auto killed = provider_for(write_script(dir, "killed", "kill -9 $$\n")).list("eu");
  REQUIRE_FALSE(killed.ok());
  CHECK_THAT(killed.error().to_string(), Catch::Contains("killed by signal 9"));
}

TEST_CASE("A provider script that prints garbage is a parse error naming it") {
  pw::test::TempDir dir;
  std::string script = write_script(dir, "garbage", "echo 'Provisioned 2 servers!'\n");
  auto servers = provider_for(script).list("eu");
  REQUIRE_FALSE(servers.ok());
  CHECK(servers.error().code == Errc::parse);
  CHECK_THAT(servers.error().to_string(), Catch::Contains(script) &&
                                              Catch::Contains("not a JSON document") &&
                                              Catch::Contains("Provisioned 2"));
}

TEST_CASE("A provider answer of the wrong shape names the field") {
  pw::test::TempDir dir;
  auto answer = [&](const std::string& name, const std::string& json) {
    return provider_for(write_script(dir, name, "cat > /dev/null\necho '" + json + "'\n"));
  };
  auto number = answer("number", R"({"servers": [{"name": "eu-r1-0", "address": 7,)"
                                 R"( "provider_id": "i", "state": "running"}]})")
                    .list("eu");
  REQUIRE_FALSE(number.ok());
  CHECK(number.error().code == Errc::parse);
  CHECK_THAT(number.error().to_string(),
             Catch::Contains("servers[0]") && Catch::Contains("'address'"));

  auto no_list = answer("nolist", R"({"server": []})").list("eu");
  REQUIRE_FALSE(no_list.ok());
  CHECK_THAT(no_list.error().to_string(), Catch::Contains("'servers'"));

  auto state = answer("state", R"({"servers": [{"name": "eu-r1-0", "address": "a:1",)"
                               R"( "provider_id": "i", "state": "booting"}]})")
                   .list("eu");
  REQUIRE_FALSE(state.ok());
  CHECK_THAT(state.error().to_string(), Catch::Contains("'state'"));

  auto missing = answer("missing", R"({"servers": [{"name": "eu-r1-0", "address": "a:1",)"
                                   R"( "provider_id": "i", "state": "running"}]})")
                     .provision("eu", two_requests(), context());
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().to_string(), Catch::Contains("lacks the requested server eu-r1-1"));

  auto array = answer("array", "[]").list("eu");
  REQUIRE_FALSE(array.ok());
  CHECK_THAT(array.error().to_string(), Catch::Contains("must be a JSON object"));
}

TEST_CASE("A provider script that prints more than 1 MiB is stopped") {
  pw::test::TempDir dir;
  std::string script = write_script(dir, "floods", "exec yes 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'\n");
  auto started = std::chrono::steady_clock::now();
  auto servers = provider_for(script).list("eu");
  REQUIRE_FALSE(servers.ok());
  CHECK(servers.error().code == Errc::limit);
  CHECK_THAT(servers.error().to_string(),
             Catch::Contains(script) && Catch::Contains("more than 1 MiB"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}

TEST_CASE("A provider script that ignores a large request does not take the controller down") {
  pw::test::TempDir dir;
  auto provider = provider_for(write_script(dir, "deaf", "echo '{}'\n"));
  nlohmann::json request = {{"action", "decommission"}, {"padding", std::string(512 * 1024, 'x')}};
  auto answer = provider.call(request);  // writing stdin fails with EPIPE, not SIGPIPE
  REQUIRE(answer.ok());
  CHECK(answer->empty());
}

TEST_CASE("A missing or non-executable provider script is an error naming it") {
  pw::test::TempDir dir;
  auto missing = provider_for(dir / "nope").list("eu");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().to_string(), Catch::Contains(dir / "nope"));
  pw::test::write_file(dir / "plain", "#!/bin/sh\n");
  auto plain = provider_for(dir / "plain").list("eu");
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.error().code == Errc::permission);
}

TEST_CASE("The example provider script starts, lists and removes local agents") {
  pw::test::TempDir dir;
  // A stand-in agent that runs until SIGTERM (the real one exits without a controller).
  std::string agent = write_script(dir, "bin/patchwave-agent",
                                   "trap 'exit 0' TERM\nwhile :; do sleep 0.05; done\n");
  pw::test::write_file(dir / "ca.pem", "ca\n");
  pw::test::write_file(dir / "root.json", "{}\n");
  ScriptOptions options;
  options.command = {PW_PROVIDER_SCRIPT};
  options.timeout = std::chrono::seconds(20);
  options.params = {
      {"base_dir", dir / "servers"}, {"agent_binary", agent}, {"stop_grace_ms", "2000"}};
  ScriptProvider provider(options);
  ProvisionContext ctx{"https://127.0.0.1:1", dir / "ca.pem", dir / "root.json",
                       "patchwave-controller"};
  auto servers = provider.provision("eu", two_requests(), ctx);
  REQUIRE(servers.ok());
  REQUIRE(servers->size() == 2);
  // The same addresses as the local provider's.
  auto address = pw::providers::local_address(pw::providers::local_region_number("eu"), 1);
  CHECK((*servers)[1].address == *address + ":7443");
  CHECK((*servers)[0].state == "running");
  auto again = provider.provision("eu", two_requests(), ctx);  // idempotent
  REQUIRE(again.ok());
  CHECK((*again)[0].provider_id == (*servers)[0].provider_id);
  struct stat info {};
  REQUIRE(::stat((dir / "servers/eu-r1-0/token").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  auto listed = provider.list("eu");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].state == "running");
  long pid = (*listed)[0].details["pid"].get<long>();
  for (const auto& server : *listed) REQUIRE(provider.decommission(server).ok());
  CHECK_FALSE(fs::exists(dir / "servers/eu-r1-0"));
  CHECK(provider.decommission((*listed)[0]).ok());  // gone already
  for (int i = 0; i < 100 && !process_gone(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(process_gone(pid));
  auto none = provider.list("eu");
  REQUIRE(none.ok());
  CHECK(none->empty());
}
