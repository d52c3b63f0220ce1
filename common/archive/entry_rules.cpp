#include "common/archive/entry_rules.hpp"

#include <cstddef>
#include <cstdio>

namespace pw::archive::detail {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 if the bytes there are not one.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) low = 0xA0;   // no overlong forms
    if (c == 0xED) high = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) low = 0x90;   // no overlong forms
    if (c == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

std::string too_long(const char* what, std::size_t size, std::uint64_t limit) {
  return std::string(what) + " is " + std::to_string(size) + " bytes, longer than the limit of " +
         std::to_string(limit);
}

}  // namespace

bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_sequence(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string printable(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    std::size_t n = utf8_sequence(raw, i);
    auto c = static_cast<unsigned char>(raw[i]);
    // C0 and C1 control characters, DEL, and bytes that are not UTF-8 are escaped.
    bool control = c < 0x20 || c == 0x7F ||
                   (n == 2 && c == 0xC2 && static_cast<unsigned char>(raw[i + 1]) < 0xA0);
    if (n == 0 || control) {
      std::size_t count = n == 0 ? 1 : n;
      for (std::size_t k = 0; k < count; ++k) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned char>(raw[i + k]));
        out += buffer;
      }
      i += count;
    } else if (c == '\\') {
      out += "\\\\";
      ++i;
    } else {
      out.append(raw.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string CheckedPath::joined() const {
  if (components.empty()) return ".";
  std::string out;
  for (const auto& component : components) {
    if (!out.empty()) out += '/';
    out += component;
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.emplace_back(path.substr(start));
      return out;
    }
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

std::optional<Rule> check_name(std::string_view raw, const Limits& limits, CheckedPath& out) {
  out.components.clear();
  if (raw.empty()) return Rule{Errc::invalid_argument, "empty name"};
  if (!valid_utf8(raw)) return Rule{Errc::invalid_argument, "name is not valid UTF-8"};
  if (raw.size() > limits.max_path_bytes) {
    return Rule{Errc::limit, too_long("path", raw.size(), limits.max_path_bytes)};
  }
  if (raw.front() == '/') return Rule{Errc::invalid_argument, "absolute path"};
  std::string_view body = raw;
  if (body.back() == '/') body.remove_suffix(1);  // "dir/"
  for (auto& component : split_path(body)) {
    if (component.empty()) return Rule{Errc::invalid_argument, "empty component"};
    if (component == "..") return Rule{Errc::invalid_argument, "'..' component"};
    if (component == ".") continue;
    if (component.size() > limits.max_component_bytes) {
      return Rule{Errc::limit,
                  too_long("a component", component.size(), limits.max_component_bytes)};
    }
    out.components.push_back(std::move(component));
  }
  return std::nullopt;
}

std::optional<Rule> check_symlink_target(std::string_view target,
                                         const std::vector<std::string>& link_dir,
                                         const Limits& limits) {
  if (target.empty()) return Rule{Errc::invalid_argument, "empty symlink target"};
  if (!valid_utf8(target)) {
    return Rule{Errc::invalid_argument, "symlink target is not valid UTF-8"};
  }
  if (target.size() > limits.max_path_bytes) {
    return Rule{Errc::limit, too_long("the symlink target", target.size(), limits.max_path_bytes)};
  }
  if (target.front() == '/') {
    return Rule{Errc::invalid_argument, "symlink leaves the release tree (absolute target)"};
  }
  std::size_t depth = link_dir.size();
  for (const auto& component : split_path(target)) {
    if (component.empty() || component == ".") continue;
    if (component != "..") {
      ++depth;
    } else if (depth == 0) {
      return Rule{Errc::invalid_argument, "symlink leaves the release tree"};
    } else {
      --depth;
    }
  }
  return std::nullopt;
}

std::optional<Rule> check_type(RawType type) {
  switch (type) {
    case RawType::file:
    case RawType::directory:
    case RawType::symlink:
    case RawType::hardlink:
      return std::nullopt;
    case RawType::char_device:
      return Rule{Errc::invalid_argument, "device node (character device)"};
    case RawType::block_device:
      return Rule{Errc::invalid_argument, "device node (block device)"};
    case RawType::fifo:
      return Rule{Errc::invalid_argument, "FIFO"};
    case RawType::socket:
      return Rule{Errc::invalid_argument, "socket"};
    case RawType::unknown:
      break;
  }
  return Rule{Errc::invalid_argument, "unsupported entry type"};
}

std::optional<Rule> check_mode(RawType type, std::uint32_t permissions) {
  if ((permissions & 04000u) != 0) return Rule{Errc::invalid_argument, "setuid bit"};
  if ((permissions & 02000u) != 0 && type != RawType::directory) {
    return Rule{Errc::invalid_argument, "setgid bit"};
  }
  return std::nullopt;
}

std::uint32_t clamp_mode(std::uint32_t permissions) { return permissions & 0775u; }

}  // namespace pw::archive::detail
