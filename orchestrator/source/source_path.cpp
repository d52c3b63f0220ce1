// Repository specs ("PATH", "PATH@REF", "file:///abs@REF"), repository-relative path
// checks, and the dispatch from a spec to the git or directory reader.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "orchestrator/source/source.hpp"
#include "orchestrator/source/source_internal.hpp"

namespace pw::source {

namespace detail {

std::string quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += to_lower(c);
  return out;
}

}  // namespace

std::string url_scheme(std::string_view spec) {
  // RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://".
  if (spec.empty() || !is_alpha(spec[0])) return "";
  std::size_t i = 1;
  while (i < spec.size() && (is_alpha(spec[i]) || is_digit(spec[i]) || spec[i] == '+' ||
                             spec[i] == '-' || spec[i] == '.')) {
    ++i;
  }
  if (spec.substr(i, 3) != "://") return "";
  return lower(spec.substr(0, i));
}

Result<std::string> local_path_from_url(const std::string& url) {
  std::string scheme = url_scheme(url);
  if (scheme.empty()) {
    return make_error(Errc::invalid_argument, "not a URL: " + quote(url));
  }
  if (scheme != "file") {
    return make_error(Errc::unsupported,
                      "cannot read repository " + quote(url) + ": URL scheme \"" + scheme +
                          "\" is not supported here (only local paths and file:// URLs)");
  }
  std::string_view rest = std::string_view(url).substr(scheme.size() + 3);
  std::size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (!host.empty() && lower(host) != "localhost") {
    return make_error(Errc::unsupported, "cannot read repository " + quote(url) +
                                             ": file:// URLs with a remote host are not supported");
  }
  if (slash == std::string_view::npos) {
    return make_error(Errc::invalid_argument, "file:// URL without a path: " + quote(url));
  }
  std::string_view encoded = rest.substr(slash);
  if (encoded.find_first_of("?#") != std::string_view::npos) {
    return make_error(Errc::invalid_argument,
                      "file:// URL with a query or fragment is not supported: " + quote(url));
  }
  std::string path;
  path.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      path += encoded[i];
      continue;
    }
    int high = i + 2 < encoded.size() ? hex_value(encoded[i + 1]) : -1;
    int low = i + 2 < encoded.size() ? hex_value(encoded[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return make_error(Errc::invalid_argument, "malformed percent-escape in URL " + quote(url));
    }
    char decoded = static_cast<char>(high * 16 + low);
    if (decoded == '\0') {
      return make_error(Errc::invalid_argument, "URL encodes a NUL byte: " + quote(url));
    }
    path += decoded;
    i += 2;
  }
  return path;
}

}  // namespace detail

using detail::quote;

Status check_relative_path(std::string_view path) {
  auto refuse = [&](const char* rule) -> Status {
    return make_error(Errc::invalid_argument,
                      "unsafe repository path " + quote(path) + ": " + rule);
  };
  if (path.empty()) return refuse("empty path");
  if (path.find('\0') != std::string_view::npos) return refuse("contains a NUL character");
  if (path.find('\\') != std::string_view::npos) return refuse("contains a backslash");
  if (path.front() == '/') return refuse("absolute path");
  std::size_t start = 0;
  while (true) {
    std::size_t end = path.find('/', start);
    std::string_view component =
        path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (component.empty()) return refuse("empty path component");
    if (component == ".") return refuse("\".\" component");
    if (component == "..") return refuse("\"..\" component");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return Ok{};
}

namespace {

struct ParsedSpec {
  std::string location;
  std::string ref;
  bool has_ref = false;
};

// Splits on the last '@' only when what follows has no '/' and what precedes is
// non-empty, so "user@host:dir/repo" and "/srv/a@b/repo" stay whole.
ParsedSpec split_spec(const std::string& spec) {
  ParsedSpec parsed;
  std::size_t at = spec.rfind('@');
  if (at != std::string::npos && at > 0 && spec.find('/', at + 1) == std::string::npos) {
    parsed.location = spec.substr(0, at);
    parsed.ref = spec.substr(at + 1);
    parsed.has_ref = true;
  } else {
    parsed.location = spec;
  }
  return parsed;
}

}  // namespace

Result<std::unique_ptr<RepositoryReader>> open_reader(const std::string& spec) {
  if (spec.empty()) return make_error(Errc::invalid_argument, "empty repository spec");
  ParsedSpec parsed = split_spec(spec);
  if (parsed.has_ref && parsed.ref.empty()) {
    return make_error(Errc::invalid_argument,
                      "repository spec " + quote(spec) + " has an empty ref after '@'");
  }
  const std::string ref = parsed.has_ref ? parsed.ref : "HEAD";

  if (!detail::url_scheme(parsed.location).empty()) {
    // open_git() refuses every scheme but file:// with Errc::unsupported.
    return open_git(parsed.location, ref);
  }

  struct stat st {};
  if (::stat(parsed.location.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return make_error(Errc::not_found,
                        "repository path does not exist: " + quote(parsed.location));
    }
    return make_error(Errc::io, "cannot access repository path " + quote(parsed.location) + ": " +
                                    std::strerror(err));
  }
  if (S_ISDIR(st.st_mode) && is_git_repository(parsed.location)) {
    return open_git(parsed.location, ref);
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(
        Errc::invalid_argument,
        "repository path is neither a directory nor a git repository: " + quote(parsed.location));
  }
  if (parsed.has_ref) {
    return make_error(Errc::invalid_argument,
                      "cannot read " + quote(parsed.location) + " at " + quote(parsed.ref) +
                          ": it is not a git repository, and a plain directory has no refs");
  }
  return open_directory(parsed.location);
}

}  // namespace pw::source
