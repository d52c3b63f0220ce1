// HTTP over TLS with mutual authentication, as Patchwave's parts speak it to each other
// (controller <-> agents), plus the plain loopback HTTP/TCP probes of health checks.
// Beast and Asio stay inside server.cpp and client.cpp; this header has plain types only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::net {

// PEM files. The CA is what peers must chain to; certificate and key are ours (a client
// without them connects without a client certificate, as an agent enrolling does).
struct TlsFiles {
  std::string ca;
  std::string certificate;
  std::string private_key;
};

struct Request {
  std::string method;
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string peer_common_name;  // of the verified client certificate ("" without one)
  std::string peer_certificate;  // its PEM, for handlers that read more (roles)
  std::string peer_address;      // the client's IP address
  std::uint16_t peer_port = 0;   // and its port (one per connection)
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Instead of `body`: send this file (or the byte range asked for with a Range header:
  // 206 with Content-Range; 416 for a range past its end).
  std::string file = {};
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see Server::port())
  TlsFiles tls;
  // The client certificate must chain to tls.ca AND name one of these (X509_check_host
  // against its DNS names, or its CN without any): a certificate the same CA issued to
  // someone else is refused during the handshake. Empty: any certificate from the CA.
  std::vector<std::string> allowed_client_names;
  // false: a client may connect without a certificate (one it does present must still
  // verify); handlers then decide per route (the controller's enrollment endpoint).
  bool require_client_certificate = true;
  std::size_t max_body_bytes = 1u << 20;
  std::size_t max_header_bytes = 16u << 10;
  std::chrono::milliseconds io_timeout{30'000};  // handshake, reading a request, writing
  unsigned handler_threads = 2;  // handlers may block (health checks, stopping a service)
};

class Server {
 public:
  // Binds and starts serving on background threads. Errc::io when the address cannot be
  // bound; Errc::parse / Errc::crypto when a PEM file is unusable (naming it).
  static Result<std::unique_ptr<Server>> start(const ServerOptions& options, Handler handler);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;
  void stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Url {
  std::string scheme;  // "https" or "http"
  std::string host;
  std::uint16_t port = 0;
  std::string target = "/";  // path and query
};
// Only http(s)://host[:port][/path]; no user info, no fragments.
Result<Url> parse_url(std::string_view text);

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// Where a download's body is read to, in place: `next` lends the buffer for the next
// bytes (not empty), and each `next` is answered by one `filled` with the number of
// bytes read into the start of that buffer (fewer than its size at the end of the body,
// or before an error; 0 gives it back unused).
struct BodySink {
  std::function<Result<std::span<char>>()> next;
  std::function<Status(std::size_t)> filled;
};

struct DownloadResult {
  int status = 0;                      // 200 (whole body) or 206 (the range asked for)
  std::optional<std::uint64_t> total;  // complete length, when the server said
  std::uint64_t received = 0;          // body bytes handed to the sink
};

// An HTTPS client that checks the server's certificate against `tls.ca` and the URL's
// host name, and presents tls.certificate when given. Synchronous; every network step
// is bounded by `timeout` (a stalled peer fails instead of hanging). `request` keeps
// its connection alive for the next request to the same host and port (one TLS
// handshake instead of one per request); a kept connection the server closed meanwhile
// is replaced, and the request sent again only if nothing of it was answered. One
// caller at a time.
// A client's TLS set-up (the CA, our certificate and key, read and decoded once), which
// many clients on many threads may share: a controller talks to every agent with the
// same identity. A set-up error (a missing file) is reported by each request.
class ClientTls {
 public:
  static std::shared_ptr<ClientTls> make(const TlsFiles& tls);
  ~ClientTls();
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;

  struct Impl;
  std::unique_ptr<Impl> impl_;

 private:
  ClientTls();
};

class Client {
 public:
  Client(const TlsFiles& tls, std::chrono::milliseconds timeout);
  Client(std::shared_ptr<ClientTls> tls, std::chrono::milliseconds timeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<ClientResponse> request(const std::string& method, const std::string& url,
                                 const std::string& body, const std::string& content_type,
                                 std::size_t max_response_bytes = 1u << 20);

  // GET url from byte `offset` (a Range request when offset > 0), streaming the body
  // from that offset to `sink`. A server that ignores the range answers 200 with the
  // whole body; its first `offset` bytes are then read and dropped, so the sink always
  // continues where it stopped. Non-2xx answers are Errc::io errors with the status; an
  // error returned by the sink ends the download with that error.
  // Each step (connecting, the handshake, the answer's head, filling one buffer of the
  // sink) must finish within the timeout.
  Result<DownloadResult> download(const std::string& url, std::uint64_t offset,
                                  const BodySink& sink);
  // The same, the body handed to `sink` in pieces (copied through a buffer of 1 MiB).
  Result<DownloadResult> download(const std::string& url, std::uint64_t offset,
                                  const std::function<Status(std::string_view)>& sink);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Plain-HTTP GET on loopback for health checks: the status, or an error (refused,
// timeout). The body is read up to 64 KiB and discarded.
Result<int> probe_http(const std::string& host, std::uint16_t port, const std::string& path,
                       std::chrono::milliseconds timeout);
// Connects and closes; Ok when something listens.
Status probe_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace pw::net
