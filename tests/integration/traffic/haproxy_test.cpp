// orchestrator/traffic against a real HAProxy (2.6, Debian) on loopback: a managed
// configuration, servers added, weighted, drained and removed through the runtime API,
// with real HTTP requests through the frontend showing where traffic goes; the
// idempotent actions the rollout engine repeats after a crash.
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "common/net/http.hpp"
#include "orchestrator/traffic/haproxy.hpp"
#include "tests/support/temp_dir.hpp"

extern char** environ;
using pw::traffic::Runtime;

namespace {

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A tiny HTTP server answering every GET with `status` (old: 200, new: 203).
struct Backend {
  pid_t pid = 0;
  std::uint16_t port = 0;
  Backend(int status) : port(free_port()) {
    std::string code =
        "import http.server,sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "  def do_GET(self):\n"
        "    self.send_response(int(sys.argv[2])); self.send_header('Content-Length','2'); "
        "self.end_headers(); self.wfile.write(b'ok')\n"
        "  def log_message(self,*a): pass\n"
        "http.server.ThreadingHTTPServer(('127.0.0.1',int(sys.argv[1])),H).serve_forever()\n";
    std::string port_text = std::to_string(port), status_text = std::to_string(status);
    std::vector<char*> argv = {const_cast<char*>("python3"),
                               const_cast<char*>("-c"),
                               code.data(),
                               port_text.data(),
                               status_text.data(),
                               nullptr};
    REQUIRE(::posix_spawnp(&pid, "python3", nullptr, nullptr, argv.data(), environ) == 0);
    for (int i = 0;
         i < 100 && !pw::net::probe_tcp("127.0.0.1", port, std::chrono::milliseconds(200)).ok();
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Backend() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

std::map<int, int> send_requests(std::uint16_t port, int count) {
  std::map<int, int> statuses;
  for (int i = 0; i < count; ++i) {
    auto status = pw::net::probe_http("127.0.0.1", port, "/", std::chrono::seconds(2));
    statuses[status.ok() ? *status : -1]++;
  }
  return statuses;
}

}  // namespace

TEST_CASE(
    "traffic moves between old and new servers through HAProxy's runtime API, without reloads") {
  pw::test::TempDir dir;
  Backend old_server(200), new_server(203);
  std::uint16_t front = free_port();
  std::string socket_path = dir / "haproxy.sock";
  pw::test::write_file(dir / "haproxy.cfg",
                       pw::traffic::managed_config(
                           socket_path, {{"bw", "127.0.0.1:" + std::to_string(front), "app_bw"}}));
  auto haproxy = pw::traffic::Haproxy::start(dir / "haproxy.cfg", socket_path);
  REQUIRE(haproxy.ok());
  Runtime runtime(socket_path);

  REQUIRE(runtime.add_server("app_bw", "old", old_server.address(), 100).ok());
  REQUIRE(runtime.add_server("app_bw", "new", new_server.address(), 0).ok());
  CHECK(send_requests(front, 20) == std::map<int, int>{{200, 20}});

  // 50/50, then everything to the new server: each change applies at once.
  REQUIRE(runtime.set_weight("app_bw", "new", 100).ok());
  auto mixed = send_requests(front, 40);
  CHECK(mixed[200] > 0);
  CHECK(mixed[203] > 0);
  REQUIRE(runtime.set_weight("app_bw", "old", 0).ok());
  CHECK(send_requests(front, 20) == std::map<int, int>{{203, 20}});

  auto stats = runtime.stats("app_bw");
  REQUIRE(stats.ok());
  REQUIRE(stats->size() == 2);
  for (const auto& stat : *stats) {
    CHECK(stat.sessions_total > 0);
    CHECK(stat.responses_2xx == stat.sessions_total);  // 200 and 203
    CHECK(stat.responses_5xx == 0);
    CHECK(stat.weight == (stat.server == "new" ? 100u : 0u));
    CHECK(stat.address == (stat.server == "new" ? new_server : old_server).address());
  }

  // The old server drained and removed; the new one keeps serving.
  REQUIRE(runtime.set_state("app_bw", "old", "drain").ok());
  REQUIRE(runtime.remove_server("app_bw", "old").ok());
  stats = runtime.stats("app_bw");
  REQUIRE(stats.ok());
  REQUIRE(stats->size() == 1);
  CHECK(stats->front().server == "new");
  CHECK(send_requests(front, 10) == std::map<int, int>{{203, 10}});
}

TEST_CASE("HAProxy's refusals come back as errors with its message; bad names never reach it") {
  pw::test::TempDir dir;
  std::string socket_path = dir / "haproxy.sock";
  pw::test::write_file(dir / "haproxy.cfg",
                       pw::traffic::managed_config(
                           socket_path, {{"bw", "127.0.0.1:" + std::to_string(free_port())}}));
  auto haproxy = pw::traffic::Haproxy::start(dir / "haproxy.cfg", socket_path);
  REQUIRE(haproxy.ok());
  Runtime runtime(socket_path);
  auto unknown = runtime.add_server("region_xx", "s1", "127.0.0.1:9", 10);
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message, Catch::Contains("HAProxy says"));
  auto injected = runtime.set_weight("region_bw", "s1 weight 0\nshutdown", 1);
  REQUIRE_FALSE(injected.ok());
  CHECK(injected.error().code == pw::Errc::invalid_argument);
  CHECK_FALSE(runtime.set_state("region_bw", "s1", "up").ok());
  Runtime nowhere(dir / "missing.sock");
  CHECK(nowhere.command("show info").error().code == pw::Errc::io);
}

TEST_CASE("ensure_server and remove_server converge when repeated; has_backend") {
  pw::test::TempDir dir;
  Backend first(200), second(203);
  std::uint16_t front = free_port();
  std::string socket_path = dir / "haproxy.sock";
  pw::test::write_file(dir / "haproxy.cfg",
                       pw::traffic::managed_config(
                           socket_path, {{"bw", "127.0.0.1:" + std::to_string(free_port())},
                                         {"eu", "127.0.0.1:" + std::to_string(front), "app_eu"}}));
  auto haproxy = pw::traffic::Haproxy::start(dir / "haproxy.cfg", socket_path);
  REQUIRE(haproxy.ok());
  Runtime runtime(socket_path);
  auto server = [&](const std::string& name) {
    auto stats = runtime.stats("app_eu");
    REQUIRE(stats.ok());
    for (const auto& stat : *stats) {
      if (stat.server == name) return stat;
    }
    FAIL("no server " << name);
    return pw::traffic::ServerStat{};
  };

  CHECK(*runtime.has_backend("region_bw"));
  CHECK(*runtime.has_backend("app_eu"));
  CHECK_FALSE(*runtime.has_backend("region_eu"));

  // Added, then repeated with another weight: the same server, the new weight.
  REQUIRE(runtime.ensure_server("app_eu", "s1", first.address(), 10).ok());
  REQUIRE(runtime.ensure_server("app_eu", "s1", first.address(), 50).ok());
  REQUIRE(runtime.stats("app_eu")->size() == 1);
  CHECK(server("s1").weight == 50);
  CHECK(send_requests(front, 5) == std::map<int, int>{{200, 5}});

  // Drained with weight 0 (a step undone halfway): ready again with its weight.
  REQUIRE(runtime.set_state("app_eu", "s1", "drain").ok());
  REQUIRE(runtime.set_weight("app_eu", "s1", 0).ok());
  CHECK_THAT(server("s1").status, Catch::Contains("DRAIN"));
  REQUIRE(runtime.ensure_server("app_eu", "s1", first.address(), 20).ok());
  CHECK(server("s1").weight == 20);
  CHECK_THAT(server("s1").status, !Catch::Contains("DRAIN") && !Catch::Contains("MAINT"));

  // A crash between `add server` and enabling it leaves it in maintenance.
  REQUIRE(runtime.command("add server app_eu/s2 " + second.address() + " weight 5").ok());
  CHECK_THAT(server("s2").status, Catch::Contains("MAINT"));
  REQUIRE(runtime.ensure_server("app_eu", "s2", second.address(), 5).ok());
  CHECK_THAT(server("s2").status, !Catch::Contains("MAINT"));
  CHECK(server("s2").weight == 5);

  // Another address: removed and added again, so traffic goes to the new address.
  REQUIRE(runtime.remove_server("app_eu", "s2").ok());
  REQUIRE(runtime.ensure_server("app_eu", "s1", second.address(), 20).ok());
  CHECK(server("s1").address == second.address());
  CHECK(send_requests(front, 5) == std::map<int, int>{{203, 5}});

  auto missing = runtime.ensure_server("app_xx", "s1", first.address(), 1);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == pw::Errc::not_found);
  CHECK(runtime.ensure_server("app_eu", "s1", first.address(), 300).error().code ==
        pw::Errc::invalid_argument);

  // Removing what is gone is fine; a backend that does not exist is not.
  REQUIRE(runtime.remove_server("app_eu", "s1").ok());
  REQUIRE(runtime.remove_server("app_eu", "s1").ok());
  REQUIRE(runtime.remove_server("app_eu", "never").ok());
  CHECK(runtime.stats("app_eu")->empty());
  CHECK(runtime.remove_server("app_xx", "s1").error().code == pw::Errc::not_found);
  Runtime nowhere(dir / "missing.sock");
  CHECK(nowhere.remove_server("app_eu", "s1").error().code == pw::Errc::io);
  CHECK(nowhere.has_backend("app_eu").error().code == pw::Errc::io);

  // The controller notices a HAProxy that died.
  CHECK((*haproxy)->running());
  ::kill(static_cast<pid_t>((*haproxy)->pid()), SIGKILL);
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i) {
    stopped = !(*haproxy)->running();
    if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(stopped);
  CHECK((*haproxy)->pid() == 0);
}

TEST_CASE(
    "ensure_servers settles a backend's servers in one exchange; a refusal names its server") {
  pw::test::TempDir dir;
  std::string socket_path = dir / "haproxy.sock";
  // A managed backend, and one with a static algorithm, which refuses weights other than
  // 0 % and 100 % of a server's configured weight (HAProxy's own refusal, not ours).
  std::string config = pw::traffic::managed_config(
      socket_path, {{"eu", "127.0.0.1:" + std::to_string(free_port()), "app_eu"}});
  config +=
      "\nbackend app_static\n  balance source\n  hash-type map-based\n"
      "  server s1 127.0.0.1:9 weight 10\n  server s2 127.0.0.1:10 weight 10\n";
  pw::test::write_file(dir / "haproxy.cfg", config);
  auto haproxy = pw::traffic::Haproxy::start(dir / "haproxy.cfg", socket_path);
  REQUIRE(haproxy.ok());
  Runtime runtime(socket_path);

  // Twelve servers added, half of them drained at weight 0 (a step undone halfway), then
  // one call sets every weight and makes every server ready.
  std::vector<Runtime::Target> targets;
  for (int i = 0; i < 12; ++i) {
    targets.push_back({"s" + std::to_string(i), "127.0.0." + std::to_string(i + 1) + ":8080", 1});
  }
  REQUIRE(runtime.ensure_servers("app_eu", targets).ok());
  for (int i = 0; i < 12; i += 2) {
    REQUIRE(runtime.set_state("app_eu", targets[static_cast<std::size_t>(i)].name, "drain").ok());
    REQUIRE(runtime.set_weight("app_eu", targets[static_cast<std::size_t>(i)].name, 0).ok());
  }
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i].weight = static_cast<int>(i * 20);
  REQUIRE(runtime.ensure_servers("app_eu", targets).ok());
  auto stats = runtime.stats("app_eu");
  REQUIRE(stats.ok());
  REQUIRE(stats->size() == 12);
  for (const auto& stat : *stats) {
    INFO(stat.server);
    std::size_t index = std::stoul(stat.server.substr(1));
    CHECK(stat.weight == index * 20);
    CHECK_THAT(stat.status, !Catch::Contains("DRAIN") && !Catch::Contains("MAINT"));
  }

  // Removed together, in one exchange: gone, the others untouched; again: nothing to do.
  REQUIRE(runtime.remove_servers("app_eu", {"s0", "s3", "s7", "absent"}).ok());
  auto left = runtime.stats("app_eu");
  REQUIRE(left.ok());
  REQUIRE(left->size() == 9);
  for (const auto& stat : *left) {
    CHECK(stat.server != "s0");
    CHECK(stat.server != "s3");
    CHECK(stat.server != "s7");
  }
  REQUIRE(runtime.remove_servers("app_eu", {"s0", "s3"}).ok());
  CHECK(runtime.stats("app_eu")->size() == 9);

  // s1 keeps its weight (accepted), s2's new one is refused: the error names s2.
  auto refused =
      runtime.ensure_servers("app_static", {{"s1", "127.0.0.1:9", 10}, {"s2", "127.0.0.1:10", 5}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == pw::Errc::io);
  CHECK_THAT(refused.error().to_string(), Catch::Contains("app_static/s2") &&
                                              Catch::Contains("static LB algorithm") &&
                                              !Catch::Contains("app_static/s1"));
}
