// net::Client::download (OpenSSL on the socket, tls_socket.hpp) against the real server
// and against a scripted TLS server that misbehaves: a body cut short, a stall, a lie
// about the range, chunks, a range ignored.
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/net/http.hpp"
#include "common/net/tls_context.hpp"
#include "orchestrator/ca/ca.hpp"
#include "tests/support/test_pki.hpp"

using namespace std::chrono_literals;

namespace {

using Pki = pw::test::TestPki;

std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 7919 + i / 4096) & 0xff);
  return out;
}

// Collects the body through lent buffers of `piece` bytes, as the agent's pipeline does.
struct Collector {
  std::string body;
  std::vector<char> buffer;
  std::size_t lent = 0, filled_calls = 0;
  explicit Collector(std::size_t piece = 64u << 10) : buffer(piece) {}
  pw::net::BodySink sink() {
    return {[this]() -> pw::Result<std::span<char>> {
              ++lent;
              return std::span<char>(buffer);
            },
            [this](std::size_t n) -> pw::Status {
              ++filled_calls;
              body.append(buffer.data(), n);
              return pw::Ok{};
            }};
  }
};

// Accepts one connection with mutual TLS, reads the request's head and hands both to
// `script`, which answers whatever it likes.
class ScriptedServer {
 public:
  using Script = std::function<void(SSL*, const std::string& request)>;
  ScriptedServer(const pw::net::TlsFiles& tls, Script script) {
    context_ = SSL_CTX_new(TLS_server_method());
    REQUIRE(pw::net::configure_server_context(context_, tls, {}).ok());
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener_, 4) == 0);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      sigset_t block;  // writing to a client that left fails with EPIPE instead
      ::sigemptyset(&block);
      ::sigaddset(&block, SIGPIPE);
      ::pthread_sigmask(SIG_BLOCK, &block, nullptr);
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      SSL* ssl = SSL_new(context_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        std::string request;
        char c = 0;
        while (request.find("\r\n\r\n") == std::string::npos && SSL_read(ssl, &c, 1) == 1) {
          request += c;
        }
        script(ssl, request);
      }
      SSL_free(ssl);
      ::close(fd);  // no close_notify unless the script sent one
    });
  }
  ~ScriptedServer() {
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(context_);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/a"; }

 private:
  SSL_CTX* context_ = nullptr;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

void send(SSL* ssl, const std::string& bytes) {
  REQUIRE(SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size())) ==
          static_cast<int>(bytes.size()));
}

}  // namespace

TEST_CASE(
    "net download: a download from the real server: whole, from an offset, and into small "
    "buffers") {
  Pki pki;
  std::string content = pattern((3u << 20) + 12345);
  pw::test::write_file(pki.dir / "artifact", content);
  pw::net::ServerOptions options;
  options.tls = pki.server_tls;
  auto server = pw::net::Server::start(options, [&](const pw::net::Request&) {
    pw::net::Response response;
    response.file = pki.dir / "artifact";
    return response;
  });
  REQUIRE(server.ok());
  std::string url = "https://127.0.0.1:" + std::to_string((*server)->port()) + "/a";
  pw::net::Client client(pki.client_tls, 5s);
  for (std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{50000}}) {
    Collector collector(100000);
    auto result = client.download(url, offset, collector.sink());
    REQUIRE(result.ok());
    CHECK(result->status == (offset == 0 ? 200 : 206));
    CHECK(result->total == content.size());
    CHECK(result->received == content.size() - offset);
    CHECK(collector.body == content.substr(offset));
    CHECK(collector.lent == collector.filled_calls);
  }
}

TEST_CASE("net download: a download checks the server's name like any request") {
  Pki pki;
  pw::net::ServerOptions options;
  options.tls = pki.server_tls;
  auto server =
      pw::net::Server::start(options, [](const pw::net::Request&) { return pw::net::Response{}; });
  REQUIRE(server.ok());
  pw::net::Client client(pki.client_tls, 5s);
  Collector collector;
  // The certificate names server.test and 127.0.0.1, not localhost.
  auto result = client.download("https://localhost:" + std::to_string((*server)->port()) + "/a", 0,
                                collector.sink());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == pw::Errc::signature);
  CHECK_THAT(result.error().to_string(), Catch::Contains("server certificate refused"));
  CHECK(collector.body.empty());
}

TEST_CASE("net download: a body cut short is an error after the bytes that came, which are kept") {
  Pki pki;
  std::string content = pattern(40000);
  ScriptedServer server(pki.server_tls, [&](SSL* ssl, const std::string&) {
    send(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + content);
  });
  pw::net::Client client(pki.client_tls, 5s);
  Collector collector;
  auto result = client.download(server.url(), 0, collector.sink());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == pw::Errc::io);
  CHECK_THAT(result.error().to_string(), Catch::Contains("after 40000 bytes") &&
                                             Catch::Contains(server.url()) &&
                                             Catch::Contains("stream truncated"));
  CHECK(collector.body == content);
}

TEST_CASE("net download: a server that stalls mid-body times out instead of hanging") {
  Pki pki;
  ScriptedServer server(pki.server_tls, [&](SSL* ssl, const std::string&) {
    send(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + pattern(1000));
    std::this_thread::sleep_for(1500ms);
  });
  pw::net::Client client(pki.client_tls, 300ms);
  Collector collector;
  auto began = std::chrono::steady_clock::now();
  auto result = client.download(server.url(), 0, collector.sink());
  REQUIRE_FALSE(result.ok());
  CHECK(std::chrono::steady_clock::now() - began < 1400ms);
  CHECK_THAT(result.error().to_string(), Catch::Contains("timed out"));
  CHECK(collector.body == pattern(1000));
}

TEST_CASE("net download: a partial answer for another range than asked is refused") {
  Pki pki;
  std::string asked;
  ScriptedServer server(pki.server_tls, [&](SSL* ssl, const std::string& request) {
    asked = request;
    send(ssl,
         "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/100\r\n"
         "Content-Length: 100\r\n\r\n" +
             pattern(100));
  });
  pw::net::Client client(pki.client_tls, 5s);
  Collector collector;
  auto result = client.download(server.url(), 10, collector.sink());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == pw::Errc::mismatch);
  CHECK_THAT(result.error().to_string(), Catch::Contains("another range"));
  CHECK_THAT(asked, Catch::Contains("Range: bytes=10-\r\n") && Catch::Contains("Host: 127.0.0.1"));
  CHECK(collector.body.empty());
}

TEST_CASE("net download: a server ignoring the range: its first bytes are dropped") {
  Pki pki;
  std::string content = pattern(300000);
  ScriptedServer server(pki.server_tls, [&](SSL* ssl, const std::string&) {
    send(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + content);
    SSL_shutdown(ssl);
  });
  pw::net::Client client(pki.client_tls, 5s);
  Collector collector(4096);
  auto result = client.download(server.url(), 123457, collector.sink());
  REQUIRE(result.ok());
  CHECK(result->status == 200);
  CHECK(result->received == 300000 - 123457);
  CHECK(collector.body == content.substr(123457));
}

TEST_CASE(
    "net download: a chunked body and a body until the end of the stream are read through the "
    "parser") {
  Pki pki;
  std::string content = pattern(70000);
  bool chunked = GENERATE(true, false);
  ScriptedServer server(pki.server_tls, [&](SSL* ssl, const std::string&) {
    if (chunked) {
      send(ssl, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      send(ssl, "10000\r\n" + content.substr(0, 0x10000) + "\r\n");
      send(ssl, "1170\r\n" + content.substr(0x10000) + "\r\n0\r\n\r\n");
    } else {
      send(ssl, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + content);
    }
    SSL_shutdown(ssl);
  });
  pw::net::Client client(pki.client_tls, 5s);
  Collector collector;
  auto result = client.download(server.url(), 0, collector.sink());
  REQUIRE(result.ok());
  CHECK(collector.body == content);
}

TEST_CASE("net download: an error from the sink ends the download with that error") {
  Pki pki;
  ScriptedServer server(pki.server_tls, [&](SSL* ssl, const std::string&) {
    send(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n");
    // The client stops reading: the write may fail, which is fine.
    std::string rest = pattern(200000);
    (void)SSL_write(ssl, rest.data(), static_cast<int>(rest.size()));
  });
  pw::net::Client client(pki.client_tls, 5s);
  std::vector<char> buffer(65536);
  pw::net::BodySink sink{
      [&]() -> pw::Result<std::span<char>> { return std::span<char>(buffer); },
      [&](std::size_t) -> pw::Status { return pw::make_error(pw::Errc::mismatch, "too long"); }};
  auto result = client.download(server.url(), 0, sink);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == pw::Errc::mismatch);
}
