// The HTTPS server: Beast over Asio SSL, asynchronous I/O on one thread, handlers on a
// small pool (they may block). Each connection is bounded in time (io_timeout on every
// step) and in size (header and body limits); the client certificate is checked during
// the handshake, so a peer without one, or from another CA, or with another name, never
// gets to send a request.
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>
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

std::string peer_certificate_pem(SSL* ssl_handle) {
  X509* cert = SSL_get0_peer_certificate(ssl_handle);
  if (cert == nullptr) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  std::string pem;
  if (PEM_write_bio_X509(bio, cert) == 1) {
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    if (size > 0) pem.assign(data, static_cast<std::size_t>(size));
  }
  BIO_free(bio);
  return pem;
}

// "bytes=START-" or "bytes=START-END" against a file of `size` bytes.
bool parse_range(const std::string& header, std::uint64_t size, std::uint64_t& start,
                 std::uint64_t& end) {
  if (header.rfind("bytes=", 0) != 0) return false;
  std::string spec = header.substr(6);
  auto dash = spec.find('-');
  if (dash == std::string::npos || dash == 0 || spec.find(',') != std::string::npos) return false;
  try {
    std::size_t used = 0;
    start = std::stoull(spec.substr(0, dash), &used);
    if (used != dash) return false;
    std::string last = spec.substr(dash + 1);
    end = last.empty() ? size - 1 : std::stoull(last, &used);
    if (!last.empty() && used != last.size()) return false;
  } catch (const std::exception&) {
    return false;
  }
  if (end >= size) end = size - 1;
  return true;
}

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
      // The client is probably still sending the rest: read and drop it after answering,
      // or closing with unread data would reset the connection before it reads the 413.
      drain_before_close_ = true;
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
    request.peer_certificate = peer_certificate_pem(stream_.native_handle());
    beast::error_code endpoint_error;
    auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(endpoint_error);
    if (!endpoint_error) {
      request.peer_address = remote.address().to_string();
      request.peer_port = remote.port();
    }
    bool keep_alive = message.keep_alive();
    range_ = request.headers.count("range") ? request.headers["range"] : std::string();
    // The handler may block; it runs on the pool and the answer comes back to this
    // connection's strand.
    asio::post(pool_, [self = shared_from_this(), request = std::move(request), keep_alive] {
      Response response;
      try {
        response = self->handler_(request);
      } catch (const std::exception&) {
        // A handler's bug must not end the process (the exception would leave the pool
        // thread): this request fails, the server goes on.
        response = Response{500,
                            "application/json",
                            R"({"error":{"code":"internal","message":"the request failed"}})",
                            {}};
      }
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response), keep_alive]() mutable {
                   self->write(std::move(response), keep_alive);
                 });
    });
  }

  void write(Response response, bool keep_alive) {
    if (!response.file.empty()) return write_file(std::move(response), keep_alive);
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
                        if (self->drain_before_close_) return self->start_drain();
                        self->shutdown();
                      });
  }

  // A file, whole or the range asked for: the header through Beast, then the bytes
  // read from disk in 1 MiB chunks straight onto the TLS stream.
  void write_file(Response response, bool keep_alive) {
    int fd = ::open(response.file.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat info {};
    if (fd < 0 || ::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      if (fd >= 0) ::close(fd);
      Response missing{404,
                       "application/json",
                       R"({"error":{"code":"not_found","message":"no such file"}})",
                       {},
                       {}};
      return write(std::move(missing), false);
    }
    file_fd_ = fd;
    auto size = static_cast<std::uint64_t>(info.st_size);
    std::uint64_t start = 0, end = size == 0 ? 0 : size - 1;
    file_header_.emplace();
    auto& header = *file_header_;
    header.version(11);
    header.set(http::field::server, "patchwave");
    header.set(http::field::content_type, response.content_type);
    header.set(http::field::accept_ranges, "bytes");
    for (auto& [name, value] : response.headers) header.set(name, value);
    if (!range_.empty()) {
      if (size == 0 || !parse_range(range_, size, start, end) || start > end) {
        close_file();
        Response bad{416,
                     "application/json",
                     R"({"error":{"code":"range","message":"range not satisfiable"}})",
                     {},
                     {}};
        return write(std::move(bad), false);
      }
      header.result(http::status::partial_content);
      header.set(http::field::content_range, "bytes " + std::to_string(start) + "-" +
                                                 std::to_string(end) + "/" + std::to_string(size));
    } else {
      header.result(static_cast<unsigned>(response.status));
    }
    file_offset_ = start;
    file_remaining_ = size == 0 ? 0 : end - start + 1;
    header.content_length(file_remaining_);
    header.keep_alive(keep_alive);
    file_serializer_.emplace(header);
    beast::get_lowest_layer(stream_).expires_after(options_.io_timeout);
    http::async_write_header(stream_, *file_serializer_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) return self->close_file();
                               self->send_file_chunk();
                             });
  }

  void send_file_chunk() {
    if (file_remaining_ == 0) {
      bool keep_alive = file_header_->keep_alive();
      close_file();
      if (keep_alive) return read();
      return shutdown();
    }
    // At most 1 MiB, no more than the file needs, and not zero-filled: a small artifact
    // (the usual release) costs no megabyte of page faults and memset per download.
    constexpr std::uint64_t kChunk = 1u << 20;
    auto want = static_cast<std::size_t>(std::min(kChunk, file_remaining_));
    if (file_buffer_size_ < want) {
      file_buffer_ = std::make_unique_for_overwrite<char[]>(want);
      file_buffer_size_ = want;
    }
    ssize_t n = ::pread(file_fd_, file_buffer_.get(), want, static_cast<off_t>(file_offset_));
    if (n <= 0) return close_file();  // the file shrank: the peer sees a short body
    file_offset_ += static_cast<std::uint64_t>(n);
    file_remaining_ -= static_cast<std::uint64_t>(n);
    beast::get_lowest_layer(stream_).expires_after(options_.io_timeout);
    asio::async_write(stream_, asio::buffer(file_buffer_.get(), static_cast<std::size_t>(n)),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->close_file();
                        self->send_file_chunk();
                      });
  }

  void close_file() {
    if (file_fd_ >= 0) ::close(file_fd_);
    file_fd_ = -1;
  }

  // Reads and drops what the client still sends (up to 64 MiB, for up to 5 s), then closes.
  void start_drain() {
    drain_buffer_.resize(64u << 10);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > (64u << 20)) return self->shutdown();
                              self->drain();
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
  std::string range_;
  bool drain_before_close_ = false;
  std::vector<char> drain_buffer_;
  std::size_t drained_ = 0;
  // Sending a file.
  int file_fd_ = -1;
  std::uint64_t file_offset_ = 0, file_remaining_ = 0;
  std::unique_ptr<char[]> file_buffer_;
  std::size_t file_buffer_size_ = 0;
  std::optional<http::response<http::empty_body>> file_header_;
  std::optional<http::response_serializer<http::empty_body>> file_serializer_;

 public:
  ~Session() { close_file(); }
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  asio::io_context io{1};
  ssl::context context{ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};  // accept() again after an error
  asio::thread_pool pool;
  std::thread thread;
  std::atomic<bool> stopped{false};

  explicit Impl(unsigned threads) : pool(std::max(1u, threads)) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of file descriptors (EMFILE: clients holding connections until their
        // deadline): accepting again at once would spin a core. Wait a little; held
        // connections time out or close and free theirs.
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](beast::error_code waited) {
          if (!waited) accept();
        });
        return;
      }
      std::make_shared<Session>(std::move(socket), context, options, handler, pool)->run();
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
                                  options.allowed_client_names,
                                  options.require_client_certificate));
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
    impl->retry.cancel();
  });
  impl_->pool.join();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace pw::net
