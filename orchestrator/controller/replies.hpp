// JSON answers of the controller's API: a body, or {"error": {"code", "message"}} with
// the HTTP status that goes with the error's kind.
#pragma once

#include <string>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"
#include "common/net/http.hpp"

namespace pw::controller {

inline net::Response reply(int status, const json::Value& body) {
  return net::Response{status, "application/json", body.dump() + "\n", {}};
}

inline net::Response error_reply(int status, const std::string& code, const std::string& message) {
  return reply(status, {{"error", {{"code", code}, {"message", message}}}});
}

inline int http_status(Errc code) {
  switch (code) {
    case Errc::not_found:
      return 404;
    case Errc::invalid_argument:
    case Errc::parse:
      return 400;
    case Errc::limit:
      return 413;
    case Errc::conflict:
    case Errc::mismatch:
      return 409;
    case Errc::permission:
    case Errc::signature:
    case Errc::expired:
      return 403;
    default:
      return 500;
  }
}

inline net::Response error_reply(const Error& error) {
  return error_reply(http_status(error.code), errc_name(error.code), error.to_string());
}

}  // namespace pw::controller
