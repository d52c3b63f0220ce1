#include "orchestrator/notify/webhook_post.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/net/http.hpp"
#include "orchestrator/notify/notify.hpp"

namespace pw::notify {
namespace {

using Clock = std::chrono::steady_clock;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on `fd` until the deadline, looking at `cancelled` every 50 ms.
Status wait_for(int fd, short events, Clock::time_point deadline,
                const std::atomic<bool>* cancelled, const std::string& step) {
  for (;;) {
    if (cancelled && cancelled->load()) return make_error(Errc::io, step + ": cancelled");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return make_error(Errc::io, step + ": timed out");
    pollfd entry{fd, events, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 50)));
    if (ready > 0) return Ok{};
    if (ready < 0 && errno != EINTR) {
      return make_error(Errc::io, step + ": " + std::strerror(errno));
    }
  }
}

Result<std::unique_ptr<Socket>> connect_to(const net::Url& url, const std::string& where,
                                           Clock::time_point deadline,
                                           const std::atomic<bool>* cancelled) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  // Blocking and not bounded by the deadline; webhooks over plain http are meant for
  // loopback relays, named by address or by "localhost".
  int rc = ::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found);
  if (rc != 0) return make_error(Errc::io, "resolving " + where + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* address = found; address != nullptr; address = address->ai_next) {
    auto socket = std::make_unique<Socket>(
        ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 address->ai_protocol));
    if (socket->fd() < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (::connect(socket->fd(), address->ai_addr, address->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_error = std::strerror(errno);
        continue;
      }
      auto writable =
          wait_for(socket->fd(), POLLOUT, deadline, cancelled, "connecting to " + where);
      if (!writable.ok()) return std::move(writable).error();
      int error = 0;
      socklen_t size = sizeof error;
      ::getsockopt(socket->fd(), SOL_SOCKET, SO_ERROR, &error, &size);
      if (error != 0) {
        last_error = std::strerror(error);
        continue;
      }
    }
    return socket;
  }
  return make_error(Errc::io, "connecting to " + where + ": " + last_error);
}

// A minimal HTTP/1.1 POST with "Connection: close"; reads the answer's head only. The
// whole exchange shares one deadline.
Result<int> post_plain(const net::Url& url, const std::string& body,
                       std::chrono::milliseconds timeout, const std::atomic<bool>* cancelled,
                       const std::string& where) {
  auto deadline = Clock::now() + timeout;
  PW_TRY_ASSIGN(auto socket, connect_to(url, where, deadline, cancelled));
  bool ipv6 = url.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + url.host + "]" : url.host;
  if (url.port != 80) host += ":" + std::to_string(url.port);
  std::string request = "POST " + url.target + " HTTP/1.1\r\nHost: " + host +
                        "\r\nUser-Agent: patchwave\r\nContent-Type: application/json\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  std::size_t sent = 0;
  while (sent < request.size()) {
    PW_TRY(wait_for(socket->fd(), POLLOUT, deadline, cancelled, "sending to " + where));
    ssize_t n = ::send(socket->fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return make_error(Errc::io, "sending to " + where + ": " + std::strerror(errno));
    }
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  constexpr std::size_t kMaxHead = 64u << 10;
  while (answer.find("\r\n\r\n") == std::string::npos && answer.size() < kMaxHead) {
    PW_TRY(wait_for(socket->fd(), POLLIN, deadline, cancelled, "reading the answer of " + where));
    char chunk[4096];
    ssize_t n = ::recv(socket->fd(), chunk, sizeof chunk, 0);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return make_error(Errc::io, "reading the answer of " + where + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    if (n > 0) answer.append(chunk, static_cast<std::size_t>(n));
  }
  // "HTTP/1.1 204 No Content"
  int status = 0;
  if (answer.rfind("HTTP/1.", 0) == 0 && answer.size() >= 12 && answer[8] == ' ' &&
      std::all_of(answer.begin() + 9, answer.begin() + 12,
                  [](char c) { return c >= '0' && c <= '9'; })) {
    status = std::stoi(answer.substr(9, 3));
  }
  if (status == 0) return make_error(Errc::io, where + ": no HTTP answer");
  return status;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

std::string scrub_url(std::string text, const std::string& url) {
  std::string redacted = redact_url(url);
  replace_all(text, url, redacted);
  if (auto parsed = net::parse_url(url); parsed.ok()) {
    // As net::Client prints it: scheme://host:port/target.
    replace_all(
        text,
        parsed->scheme + "://" + parsed->host + ":" + std::to_string(parsed->port) + parsed->target,
        redacted);
    if (parsed->target != "/") replace_all(text, parsed->target, "/…");
  }
  return text;
}

WebhookPoster::WebhookPoster(std::string ca_file, std::chrono::milliseconds timeout,
                             const std::atomic<bool>* cancelled)
    : ca_file_(ca_file.empty() ? kSystemCaBundle : std::move(ca_file)),
      timeout_(timeout),
      cancelled_(cancelled) {}

WebhookPoster::~WebhookPoster() = default;

Result<int> WebhookPoster::post_json(const std::string& url_text, const std::string& body) {
  std::string where = redact_url(url_text);
  auto url = net::parse_url(url_text);
  if (!url.ok()) return make_error(Errc::invalid_argument, where + ": not a usable URL");
  if (url->scheme == "http") return post_plain(*url, body, timeout_, cancelled_, where);
  if (!https_) https_ = std::make_unique<net::Client>(net::TlsFiles{ca_file_, "", ""}, timeout_);
  auto answer = https_->request("POST", url_text, body, "application/json", 64u << 10);
  if (!answer.ok()) {
    Error error = std::move(answer).error();
    return make_error(error.code, scrub_url(error.to_string(), url_text));
  }
  return answer->status;
}

}  // namespace pw::notify
