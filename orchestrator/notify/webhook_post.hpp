// One POST of a JSON body to a webhook (internal to orchestrator/notify).
//   https: net::Client, servers verified against the CA file (the system bundle by
//          default) and the URL's host name;
//   http:  a minimal HTTP/1.1 exchange over a plain socket (net::Client speaks only
//          https), for loopback relays and tests.
// Error texts never contain the URL's path or query: net's messages quote the whole URL,
// so they are scrubbed down to redact_url().
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "common/errors/result.hpp"

namespace pw::net {
class Client;
}

namespace pw::notify {

class WebhookPoster {
 public:
  // `cancelled` (may be null) ends a plain-http attempt at once when it becomes true.
  WebhookPoster(std::string ca_file, std::chrono::milliseconds timeout,
                const std::atomic<bool>* cancelled);
  ~WebhookPoster();
  WebhookPoster(const WebhookPoster&) = delete;
  WebhookPoster& operator=(const WebhookPoster&) = delete;

  // The answer's HTTP status, or an error (refused, timed out, TLS, cancelled).
  Result<int> post_json(const std::string& url, const std::string& body);

 private:
  std::string ca_file_;
  std::chrono::milliseconds timeout_;
  const std::atomic<bool>* cancelled_;
  std::unique_ptr<net::Client> https_;  // made on first use: loading a CA bundle costs
};

// `text` with every spelling of `url` (as given, as net prints it, its path and query)
// replaced by redact_url(url).
std::string scrub_url(std::string text, const std::string& url);

}  // namespace pw::notify
