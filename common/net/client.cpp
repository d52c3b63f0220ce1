// The HTTPS client and the plain loopback probes. Asio operations are started
// asynchronously and the io_context is run until they finish, so that every step has a
// deadline (beast::tcp_stream::expires_after applies only to asynchronous operations);
// to callers the client is synchronous. One connection per request.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <cstring>
#include <limits>
#include <vector>

#include "common/net/http.hpp"
#include "common/net/tls_context.hpp"
#include "common/net/tls_socket.hpp"

namespace pw::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// Runs one asynchronous operation to completion on `io`.
template <typename Start>
beast::error_code run_op(asio::io_context& io, Start&& start) {
  beast::error_code result = asio::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

std::string where(const Url& url) {
  return url.scheme + "://" + url.host + ":" + std::to_string(url.port) + url.target;
}

Error network_error(const Url& url, const std::string& step, const beast::error_code& ec) {
  std::string text = ec == beast::error::timeout ? "timed out" : ec.message();
  return make_error(Errc::io, step + " " + where(url) + ": " + text);
}

std::map<std::string, std::string> lowercase_headers(const http::fields& fields) {
  std::map<std::string, std::string> out;
  for (const auto& field : fields) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[name] = std::string(field.value());
  }
  return out;
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
  Url url;
  auto bad = [&](const std::string& rule) {
    return make_error(Errc::invalid_argument, "URL '" + std::string(text) + "': " + rule);
  };
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return bad("expected http:// or https://");
  url.scheme = std::string(text.substr(0, scheme_end));
  if (url.scheme != "https" && url.scheme != "http") return bad("only http and https are used");
  std::string_view rest = text.substr(scheme_end + 3);
  auto path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  url.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (authority.find('@') != std::string_view::npos) return bad("user information is not allowed");
  if (url.target.find('#') != std::string::npos) return bad("fragments are not allowed");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after the host");
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return bad("no host");
  url.port = url.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    std::uint64_t port = 0;
    if (!parse_u64(port_text, port) || port == 0 || port > 65535) return bad("bad port");
    url.port = static_cast<std::uint16_t>(port);
  }
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("control or space in path");
  }
  return url;
}

struct ClientTls::Impl {
  ssl::context context{ssl::context::tls_client};  // SSL_CTX: shared by threads once set up
  std::optional<Error> setup_error;
};

ClientTls::ClientTls() : impl_(std::make_unique<Impl>()) {}
ClientTls::~ClientTls() = default;

std::shared_ptr<ClientTls> ClientTls::make(const TlsFiles& tls) {
  std::shared_ptr<ClientTls> made(new ClientTls());
  if (auto status = configure_client_context(made->impl_->context.native_handle(), tls);
      !status.ok()) {
    made->impl_->setup_error = std::move(status).error();
  }
  return made;
}

struct Client::Impl {
  std::shared_ptr<ClientTls> shared;
  std::chrono::milliseconds timeout;
  asio::io_context io{1};
  ssl::context& context;
  std::optional<Error>& setup_error;

  Impl(std::shared_ptr<ClientTls> tls, std::chrono::milliseconds t)
      : shared(std::move(tls)),
        timeout(t),
        context(shared->impl_->context),
        setup_error(shared->impl_->setup_error) {}

  using Stream = beast::ssl_stream<beast::tcp_stream>;

  Result<std::unique_ptr<Stream>> connect(const Url& url) {
    if (setup_error) return *setup_error;
    if (url.scheme != "https") {
      return make_error(Errc::invalid_argument, where(url) + ": only https is allowed here");
    }
    auto stream = std::make_unique<Stream>(io, context);
    PW_TRY(expect_server_name(stream->native_handle(), url.host));
    tcp::resolver resolver(io);
    beast::error_code resolve_ec;
    tcp::resolver::results_type endpoints;
    run_op(io, [&](auto done) {
      resolver.async_resolve(url.host, std::to_string(url.port),
                             [&, done](beast::error_code ec, tcp::resolver::results_type r) {
                               resolve_ec = ec;
                               endpoints = std::move(r);
                               done(ec);
                             });
    });
    if (resolve_ec) return network_error(url, "resolving", resolve_ec);
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(timeout);
    auto ec = run_op(io, [&](auto done) { lowest.async_connect(endpoints, done); });
    if (ec) return network_error(url, "connecting to", ec);
    lowest.expires_after(timeout);
    ec = run_op(io, [&](auto done) { stream->async_handshake(ssl::stream_base::client, done); });
    if (ec) {
      long verify = SSL_get_verify_result(stream->native_handle());
      if (verify != X509_V_OK) {
        return make_error(Errc::signature, "TLS with " + where(url) +
                                               ": server certificate refused: " +
                                               X509_verify_cert_error_string(verify));
      }
      return network_error(url, "TLS handshake with", ec);
    }
    return stream;
  }

  Status send(Stream& stream, const Url& url, http::request<http::string_body>& request) {
    request.set(http::field::host, url.host);
    request.set(http::field::user_agent, "patchwave");
    request.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto ec = run_op(io, [&](auto done) { http::async_write(stream, request, done); });
    if (ec) return network_error(url, "sending to", ec);
    return Ok{};
  }

  void close(Stream& stream) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
    run_op(io, [&](auto done) { stream.async_shutdown(done); });
  }

  // One connection kept alive after a request (HTTP/1.1 keep-alive), for the next
  // request to the same host and port: the controller asks each agent every health
  // interval, and a TLS handshake per question was most of its CPU time.
  std::unique_ptr<Stream> idle;
  std::string idle_key;

  // One exchange on `stream`. `sent` says whether the request went out and `answered`
  // whether any of the answer came back, so that a kept-alive connection the server
  // had closed can be told apart from a request that failed.
  Result<ClientResponse> exchange(Stream& stream, const Url& url,
                                  http::request<http::string_body>& request,
                                  std::size_t max_response_bytes, bool& keep, bool& answered) {
    keep = false;
    answered = false;
    PW_TRY(send(stream, url, request));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_response_bytes);
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto ec = run_op(io, [&](auto done) { http::async_read(stream, buffer, parser, done); });
    answered = parser.got_some();
    if (ec) return network_error(url, "reading the answer of", ec);
    auto& message = parser.get();
    keep = message.keep_alive();
    return ClientResponse{static_cast<int>(message.result_int()), lowercase_headers(message),
                          std::move(message.body())};
  }
};

Client::Client(const TlsFiles& tls, std::chrono::milliseconds timeout)
    : Client(ClientTls::make(tls), timeout) {}
Client::Client(std::shared_ptr<ClientTls> tls, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(tls), timeout)) {}
Client::~Client() = default;

Result<ClientResponse> Client::request(const std::string& method, const std::string& url_text,
                                       const std::string& body, const std::string& content_type,
                                       std::size_t max_response_bytes) {
  PW_TRY_ASSIGN(Url url, parse_url(url_text));
  http::request<http::string_body> request;
  request.method_string(method);
  request.target(url.target);
  request.version(11);
  request.keep_alive(true);
  if (!body.empty() || method == "POST" || method == "PUT") {
    request.set(http::field::content_type, content_type);
    request.body() = body;
  }
  std::string key = url.host + ":" + std::to_string(url.port);
  std::unique_ptr<Impl::Stream> stream;
  bool reused = false;
  if (impl_->idle && impl_->idle_key == key) {
    stream = std::move(impl_->idle);
    reused = true;
  } else {
    impl_->idle.reset();
    PW_TRY_ASSIGN(stream, impl_->connect(url));
  }
  bool keep = false, answered = false;
  auto response = impl_->exchange(*stream, url, request, max_response_bytes, keep, answered);
  if (!response.ok() && reused && !answered) {
    // The server had closed the kept-alive connection (idle timeout, restart) before it
    // read the request: nothing was answered, so it is sent once more on a new one.
    PW_TRY_ASSIGN(stream, impl_->connect(url));
    response = impl_->exchange(*stream, url, request, max_response_bytes, keep, answered);
  }
  if (!response.ok()) return response;
  if (keep) {
    impl_->idle = std::move(stream);
    impl_->idle_key = key;
  } else {
    impl_->close(*stream);
  }
  return response;
}

// Downloads run on their own connection with OpenSSL on the socket (tls_socket.hpp):
// Beast only parses the answer's head, and the body is decrypted straight into the
// sink's buffers, a buffer per deadline instead of one per TLS record.
Result<DownloadResult> Client::download(const std::string& url_text, std::uint64_t offset,
                                        const BodySink& sink) {
  PW_TRY_ASSIGN(Url url, parse_url(url_text));
  if (impl_->setup_error) return *impl_->setup_error;
  if (url.scheme != "https") {
    return make_error(Errc::invalid_argument, where(url) + ": only https is allowed here");
  }
  for (char c : url.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return make_error(Errc::invalid_argument, where(url) + ": control or space in the host");
    }
  }
  auto timeout = impl_->timeout;
  PW_TRY_ASSIGN(auto socket, TlsSocket::connect(impl_->context.native_handle(), url.host, url.port,
                                                where(url), timeout));
  auto step_error = [&](const std::string& step, const Error& why) {
    return make_error(Errc::io, step + " " + where(url) + ": " + why.message);
  };
  std::string head = "GET " + url.target + " HTTP/1.1\r\nHost: " + url.host +
                     "\r\nUser-Agent: patchwave\r\nConnection: close\r\n";
  if (offset > 0) head += "Range: bytes=" + std::to_string(offset) + "-\r\n";
  head += "\r\n";
  if (auto sent = socket->write_all(head, TlsSocket::Clock::now() + timeout); !sent.ok()) {
    return step_error("sending to", sent.error());
  }

  // The head, parsed by Beast from what was read so far; body bytes read with it stay
  // in `input`.
  http::response_parser<http::buffer_body> parser;
  // Not boost::none: Beast 1.74 compares `length > body_limit_` with the optional, and
  // every length is greater than none.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  std::string input;
  std::vector<char> scratch(64u << 10);
  auto head_deadline = TlsSocket::Clock::now() + timeout;
  while (!parser.is_header_done()) {
    auto got = socket->read_some(scratch.data(), scratch.size(), head_deadline);
    if (!got.ok()) return step_error("reading the answer of", got.error());
    if (*got == 0) return step_error("reading the answer of", make_error(Errc::io, "End of file"));
    input.append(scratch.data(), *got);
    beast::error_code ec;
    std::size_t used = parser.put(asio::buffer(input), ec);
    input.erase(0, used);
    if (ec && ec != http::error::need_more) {
      return make_error(Errc::io, "reading the answer of " + where(url) + ": " + ec.message());
    }
  }
  DownloadResult result;
  result.status = static_cast<int>(parser.get().result_int());
  auto headers = lowercase_headers(parser.get());
  if (result.status == 206) {
    // Content-Range: bytes START-END/TOTAL
    const std::string& range = headers["content-range"];
    auto dash = range.find('-'), slash = range.find('/');
    std::uint64_t start = 0, total = 0;
    if (range.rfind("bytes ", 0) != 0 || dash == std::string::npos || slash == std::string::npos ||
        !parse_u64(std::string_view(range).substr(6, dash - 6), start) || start != offset) {
      return make_error(Errc::mismatch, where(url) + ": partial answer for another range ('" +
                                            range + "', asked from " + std::to_string(offset) +
                                            ")");
    }
    if (parse_u64(std::string_view(range).substr(slash + 1), total)) result.total = total;
  } else if (result.status == 200) {
    if (parser.content_length()) result.total = *parser.content_length();
  } else {
    return make_error(Errc::io, "GET " + where(url) + ": HTTP " + std::to_string(result.status));
  }
  // A 200 answer to a range request: the bytes before `offset` are dropped.
  std::uint64_t skip = result.status == 200 ? offset : 0;
  auto failed = [&](const Error& why) {
    return make_error(Errc::io, "downloading (after " + std::to_string(result.received) +
                                    " bytes) " + where(url) + ": " + why.message);
  };
  // Bytes already in memory (read with the head, or decoded from chunks) go to the sink
  // by copy; the bulk of a body with a length never passes through here.
  auto deliver = [&](const char* data, std::size_t size) -> Status {
    std::size_t dropped = static_cast<std::size_t>(std::min<std::uint64_t>(skip, size));
    skip -= dropped;
    data += dropped;
    size -= dropped;
    while (size > 0) {
      PW_TRY_ASSIGN(std::span<char> into, sink.next());
      std::size_t take = std::min(size, into.size());
      std::memcpy(into.data(), data, take);
      PW_TRY(sink.filled(take));
      result.received += take;
      data += take;
      size -= take;
    }
    return Ok{};
  };

  if (parser.content_length() && !parser.chunked()) {
    // The usual case: a known length, read straight into the sink's buffers.
    std::uint64_t remaining = *parser.content_length();
    std::size_t buffered =
        static_cast<std::size_t>(std::min<std::uint64_t>(input.size(), remaining));
    PW_TRY(deliver(input.data(), buffered));
    remaining -= buffered;
    while (remaining > 0) {
      PW_TRY_ASSIGN(std::span<char> into, sink.next());
      if (into.empty()) return make_error(Errc::internal, "download sink lent an empty buffer");
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), remaining));
      if (skip > 0) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, skip));
      auto deadline = TlsSocket::Clock::now() + timeout;
      std::size_t got = 0;
      std::optional<Error> failure;
      while (got < want) {
        auto n = socket->read_some(into.data() + got, want - got, deadline);
        if (!n.ok()) {
          failure = std::move(n).error();
          break;
        }
        if (*n == 0) {
          failure = make_error(Errc::io, "End of file");
          break;
        }
        got += *n;
      }
      remaining -= got;
      if (skip > 0) {
        skip -= got;
        PW_TRY(sink.filled(0));
      } else {
        PW_TRY(sink.filled(got));
        result.received += got;
      }
      if (failure) return failed(*failure);
    }
  } else {
    // Chunked, or until the end of the stream: through the parser, in small pieces.
    std::vector<char> body(64u << 10);
    auto deadline = TlsSocket::Clock::now() + timeout;
    bool need_more = input.empty();
    while (!parser.is_done()) {
      if (need_more) {
        auto got = socket->read_some(scratch.data(), scratch.size(), deadline);
        if (!got.ok()) return failed(got.error());
        if (*got == 0) {
          beast::error_code ec;
          parser.put_eof(ec);
          if (ec) return failed(make_error(Errc::io, ec.message()));
          break;
        }
        input.append(scratch.data(), *got);
        deadline = TlsSocket::Clock::now() + timeout;
      }
      parser.get().body().data = body.data();
      parser.get().body().size = body.size();
      beast::error_code ec;
      std::size_t used = parser.put(asio::buffer(input), ec);
      input.erase(0, used);
      need_more = ec == http::error::need_more || (used == 0 && !ec);
      if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
      PW_TRY(deliver(body.data(), body.size() - parser.get().body().size));
      if (ec) return failed(make_error(Errc::io, ec.message()));
    }
  }
  socket->shutdown();
  return result;
}

Result<DownloadResult> Client::download(const std::string& url, std::uint64_t offset,
                                        const std::function<Status(std::string_view)>& sink) {
  std::vector<char> buffer(1u << 20);
  BodySink copy{[&]() -> Result<std::span<char>> { return std::span<char>(buffer); },
                [&](std::size_t filled) {
                  if (filled == 0) return Status(Ok{});
                  return sink(std::string_view(buffer.data(), filled));
                }};
  return download(url, offset, copy);
}

Result<int> probe_http(const std::string& host, std::uint16_t port, const std::string& path,
                       std::chrono::milliseconds timeout) {
  asio::io_context io{1};
  Url url{"http", host, port, path};
  beast::tcp_stream stream(io);
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return make_error(Errc::invalid_argument, "health check host '" + host + "'");
  stream.expires_after(timeout);
  ec = run_op(io, [&](auto done) { stream.async_connect(tcp::endpoint(address, port), done); });
  if (ec) return network_error(url, "connecting to", ec);
  http::request<http::empty_body> request{http::verb::get, path, 11};
  request.set(http::field::host, host + ":" + std::to_string(port));
  request.set(http::field::user_agent, "patchwave-health");
  request.keep_alive(false);
  ec = run_op(io, [&](auto done) { http::async_write(stream, request, done); });
  if (ec) return network_error(url, "sending to", ec);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 10);
  ec = run_op(io, [&](auto done) { http::async_read(stream, buffer, parser, done); });
  if (ec) return network_error(url, "reading the answer of", ec);
  return static_cast<int>(parser.get().result_int());
}

Status probe_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  asio::io_context io{1};
  beast::tcp_stream stream(io);
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return make_error(Errc::invalid_argument, "health check host '" + host + "'");
  stream.expires_after(timeout);
  ec = run_op(io, [&](auto done) { stream.async_connect(tcp::endpoint(address, port), done); });
  if (ec) return network_error(Url{"tcp", host, port, ""}, "connecting to", ec);
  return Ok{};
}

}  // namespace pw::net
