// A throwaway CA on disk with a server certificate (server.test, 127.0.0.1) and an
// operator's client certificate, as TlsFiles for net::Server and net::Client tests.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>

#include "common/net/http.hpp"
#include "orchestrator/ca/ca.hpp"
#include "tests/support/temp_dir.hpp"

namespace pw::test {

struct TestPki {
  TempDir dir;
  net::TlsFiles server_tls, client_tls;
  TestPki() {
    auto ca = ca::ControllerCa::init(dir / "ca", "test CA");
    REQUIRE(ca.ok());
    auto server = ca->issue_controller("server.test", {}, {"127.0.0.1"});
    auto client = ca->issue_operator("alice", "viewer", std::chrono::hours(1));
    REQUIRE(server.ok());
    REQUIRE(client.ok());
    write_file(dir / "server.crt", server->certificate_pem);
    write_file(dir / "server.key", server->private_key_pem);
    write_file(dir / "client.crt", client->certificate_pem);
    write_file(dir / "client.key", client->private_key_pem);
    server_tls = {ca->certificate_file(), dir / "server.crt", dir / "server.key"};
    client_tls = {ca->certificate_file(), dir / "client.crt", dir / "client.key"};
  }
};

}  // namespace pw::test
