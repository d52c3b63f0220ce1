// A TLS client connection driven with OpenSSL directly on a non-blocking socket, for
// bulk downloads. Asio's ssl::stream reads through a BIO pair and a 17 KiB engine
// buffer (a copy and a small read per record); here SSL_read decrypts from the socket
// straight into the caller's buffer. The same SSL_CTX as the other requests, so
// certificates, mutual TLS and host-name checks are identical (tls_context.hpp).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/errors/result.hpp"

namespace pw::net {

// Used by one thread, which has SIGPIPE blocked while the socket lives: OpenSSL writes
// with write(2), and a server that closed must be an error, not the end of the process.
class TlsSocket {
 public:
  using Clock = std::chrono::steady_clock;

  // Resolves `host`, connects and completes the handshake, each step within `timeout`.
  // Errors name `where` (the URL): Errc::io for the network, Errc::signature when the
  // server's certificate is refused.
  static Result<std::unique_ptr<TlsSocket>> connect(SSL_CTX* context, const std::string& host,
                                                    std::uint16_t port, const std::string& where,
                                                    std::chrono::milliseconds timeout);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  // Errors of these two carry only the reason ("timed out", "stream truncated", ...):
  // the caller says what it was doing.
  Status write_all(std::string_view data, Clock::time_point deadline);
  // Decrypts up to `size` bytes into `data`, waiting until `deadline` for some; 0 when
  // the server closed the TLS session (close_notify).
  Result<std::size_t> read_some(char* data, std::size_t size, Clock::time_point deadline);
  // Sends close_notify without waiting for the server's (the request said Connection: close).
  void shutdown();

 private:
  class SigpipeGuard;
  TlsSocket(std::unique_ptr<SigpipeGuard> guard, int fd, SSL* ssl);
  Status wait(short events, Clock::time_point deadline);
  // What went wrong in an SSL call that returned `code`: Ok to retry after waiting.
  Status retry_or_fail(int code, Clock::time_point deadline);

  std::unique_ptr<SigpipeGuard> sigpipe_;  // first member: released last
  int fd_;
  SSL* ssl_;
};

}  // namespace pw::net
