// net::Client against a real net::Server on loopback: kept-alive connections are
// reused, and one the server closed meanwhile is replaced without the caller noticing.
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "common/net/http.hpp"
#include "orchestrator/ca/ca.hpp"
#include "tests/support/test_pki.hpp"

using namespace std::chrono_literals;

namespace {

struct Fixture : pw::test::TestPki {
  std::mutex mutex;
  std::vector<std::uint16_t> peer_ports;  // the client's port of each request

  std::unique_ptr<pw::net::Server> serve(std::uint16_t port, std::chrono::milliseconds io_timeout) {
    pw::net::ServerOptions options;
    options.port = port;
    options.tls = server_tls;
    options.io_timeout = io_timeout;
    auto server = pw::net::Server::start(options, [this](const pw::net::Request& request) {
      std::lock_guard lock(mutex);
      peer_ports.push_back(request.peer_port);
      pw::net::Response response;
      response.body = R"({"echo":")" + request.method + "\"}";
      return response;
    });
    REQUIRE(server.ok());
    return std::move(*server);
  }
  std::string url(std::uint16_t port) const {
    return "https://127.0.0.1:" + std::to_string(port) + "/v1/status";
  }
};

}  // namespace

TEST_CASE("the client keeps its connection alive between requests to one server") {
  Fixture f;
  auto server = f.serve(0, 30s);
  pw::net::Client client(f.client_tls, 5s);
  for (const char* method : {"GET", "POST", "GET"}) {
    auto response = client.request(method, f.url(server->port()), "{}", "application/json");
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    CHECK(response->body == std::string(R"({"echo":")") + method + "\"}");
  }
  std::lock_guard lock(f.mutex);
  REQUIRE(f.peer_ports.size() == 3);
  CHECK(std::set<std::uint16_t>(f.peer_ports.begin(), f.peer_ports.end()).size() == 1);
}

TEST_CASE("a kept connection the server closed is replaced and the request still answered") {
  Fixture f;
  pw::net::Client client(f.client_tls, 5s);
  SECTION("the server's idle timeout closed it") {
    auto server = f.serve(0, 200ms);
    REQUIRE(client.request("GET", f.url(server->port()), "", "application/json").ok());
    std::this_thread::sleep_for(600ms);  // the server has closed the idle connection
    auto again = client.request("POST", f.url(server->port()), "{}", "application/json");
    REQUIRE(again.ok());
    CHECK(again->status == 200);
    std::lock_guard lock(f.mutex);
    REQUIRE(f.peer_ports.size() == 2);  // sent once on the new connection, not twice
    CHECK(f.peer_ports[0] != f.peer_ports[1]);
  }
  SECTION("the server was restarted on the same port") {
    auto server = f.serve(0, 30s);
    std::uint16_t port = server->port();
    REQUIRE(client.request("GET", f.url(port), "", "application/json").ok());
    server.reset();  // stops: the kept connection is gone
    server = f.serve(port, 30s);
    auto again = client.request("GET", f.url(port), "", "application/json");
    REQUIRE(again.ok());
    CHECK(again->status == 200);
  }
  SECTION("a request to another server does not use the kept connection") {
    auto first = f.serve(0, 30s);
    auto second = f.serve(0, 30s);
    REQUIRE(client.request("GET", f.url(first->port()), "", "application/json").ok());
    REQUIRE(client.request("GET", f.url(second->port()), "", "application/json").ok());
    REQUIRE(client.request("GET", f.url(first->port()), "", "application/json").ok());
    std::lock_guard lock(f.mutex);
    REQUIRE(f.peer_ports.size() == 3);
    CHECK(f.peer_ports[0] != f.peer_ports[2]);  // one connection kept, to the last server
  }
}

TEST_CASE("a server that is gone is an error naming it, not a hang") {
  Fixture f;
  std::uint16_t port = 0;
  {
    auto server = f.serve(0, 30s);
    port = server->port();
  }
  pw::net::Client client(f.client_tls, 2s);
  auto response = client.request("GET", f.url(port), "", "application/json");
  REQUIRE_FALSE(response.ok());
  CHECK_THAT(response.error().to_string(), Catch::Contains("127.0.0.1:" + std::to_string(port)));
}
