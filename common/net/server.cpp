// The HTTPS server: Beast over Asio SSL, asynchronous I/O on one thread, handlers on a
// small pool (they may block). Each connection is bounded in time (io_timeout on every
// step) and in size (header and body limits); the client certificate is checked during
// the handshake, so a peer without one, or from another CA, or with another name, never
// gets to send a request.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <thread>

#include "common/net/http.hpp"
#include "common/net/tls_context.hpp"

namespace pw::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::string peer_common_name(SSL* ssl_handle) {
  X509* cert = SSL_get0_peer_certificate(ssl_handle);
  if (cert == nullptr) return {};
  char name[256] = {};
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name,
                                    static_cast<int>(sizeof name));
  return n > 0 ? std::string(name, static_cast<std::size_t>(n)) : std::string();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ssl::context& context, const ServerOptions& options,
          const Handler& handler, asio::thread_pool& pool)
      : stream_(std::move(socket), context), options_(options), handler_(handler), pool_(pool) {}

  void run() {
    beast::get_lowest_layer(stream_).expires_after(options_.io_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (!ec) self->read();
                            });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser_->body_limit(options_.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(options_.io_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return shutdown();
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      Response response{
          413,
          "application/json",
          R"({"error":{"code":"limit","message":"request larger than )" +
              std::to_string(ec == http::error::body_limit ? options_.max_body_bytes
                                                           : options_.max_header_bytes) +
              R"( bytes"}})",
          {}};
      return write(std::move(response), false);
    }
    if (ec) {
      if (ec == beast::error::timeout || ec == asio::ssl::error::stream_truncated) return;
      Response response{400,
                        "application/json",
                        R"({"error":{"code":"parse","message":"malformed HTTP request"}})",
                        {}};
      return write(std::move(response), false);
    }
    auto message = parser_->release();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(message.body());
    request.peer_common_name = peer_common_name(stream_.native_handle());
    bool keep_alive = message.keep_alive();
    // The handler may block; it runs on the pool and the answer comes back to this
    // connection's strand.
    asio::post(pool_, [self = shared_from_this(), request = std::move(request), keep_alive] {
      Response response = self->handler_(request);
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response), keep_alive]() mutable {
                   self->write(std::move(response), keep_alive);
                 });
    });
  }

  void write(Response response, bool keep_alive) {
    auto message = std::make_shared<http::response<http::string_body>>();
    message->result(static_cast<unsigned>(response.status));
    message->version(11);
    message->set(http::field::server, "patchwave");
    message->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) message->set(name, value);
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive);
    message->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(options_.io_timeout);
    http::async_write(stream_, *message,
                      [self = shared_from_this(), message](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (message->keep_alive()) return self->read();
                        self->shutdown();
                      });
  }

  void shutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  const ServerOptions& options_;
  const Handler& handler_;
  asio::thread_pool& pool_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  asio::io_context io{1};
  ssl::context context{ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  asio::thread_pool pool;
  std::thread thread;
  std::atomic<bool> stopped{false};

  explicit Impl(unsigned threads) : pool(std::max(1u, threads)) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
      } else {
        std::make_shared<Session>(std::move(socket), context, options, handler, pool)->run();
      }
      accept();
    });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options, Handler handler) {
  auto impl = std::make_unique<Impl>(options.handler_threads);
  impl->options = options;
  impl->handler = std::move(handler);
  PW_TRY(configure_server_context(impl->context.native_handle(), options.tls,
                                  options.allowed_client_names));
  beast::error_code ec;
  auto address = asio::ip::make_address(options.address, ec);
  if (ec)
    return make_error(Errc::invalid_argument,
                      "listen address '" + options.address + "': " + ec.message());
  tcp::endpoint endpoint(address, options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(Errc::io, "cannot listen on " + options.address + ":" +
                                    std::to_string(options.port) + ": " + ec.message());
  }
  impl->accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->pool.join();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace pw::net
