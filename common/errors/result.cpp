#include "common/errors/result.hpp"

namespace pw {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::io:
      return "io";
    case Errc::parse:
      return "parse";
    case Errc::limit:
      return "limit";
    case Errc::unsupported:
      return "unsupported";
    case Errc::crypto:
      return "crypto";
    case Errc::signature:
      return "signature";
    case Errc::expired:
      return "expired";
    case Errc::rollback:
      return "rollback";
    case Errc::mismatch:
      return "mismatch";
    case Errc::not_found:
      return "not_found";
    case Errc::permission:
      return "permission";
    case Errc::conflict:
      return "conflict";
    case Errc::git:
      return "git";
    case Errc::internal:
      return "internal";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string out;
  for (auto it = context.rbegin(); it != context.rend(); ++it) {
    out += *it;
    out += ": ";
  }
  out += message;
  return out;
}

}  // namespace pw
