// Typed access to the YAML tree with errors that name the field path and the rule.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <sstream>

#include "orchestrator/fleet/internal.hpp"

namespace pw::fleet::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

// Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// Levenshtein distance, for "did you mean" on unknown fields.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string_view>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

Field child(const Field& parent, std::string_view name, const Node& node, Mark mark) {
  std::string path =
      parent.path.empty() ? std::string(name) : parent.path + "." + std::string(name);
  return Field{&node, std::move(path), mark};
}

Field item(const Field& parent, std::size_t index, const Node& node) {
  return Field{&node, parent.path + "[" + std::to_string(index) + "]", node.mark};
}

std::optional<Field> Object::get(std::string_view name) const {
  // One field per entry, in the same order (Reader::object builds them so).
  const auto& entries = self.node->entries;
  for (std::size_t i = 0; i < entries.size() && i < fields.size(); ++i) {
    if (entries[i].key == name) return fields[i];
  }
  return std::nullopt;
}

Error Reader::error(const Field& field, const std::string& rule, Errc code) const {
  return located_error(code, source_, field.mark,
                       field.path.empty() ? rule : field.path + ": " + rule);
}

Result<Object> Reader::object(const Field& field,
                              const std::vector<std::string_view>& allowed) const {
  if (field.node->kind != Node::Kind::map) return error(field, "expected a mapping (key: value)");
  Object object{field, {}};
  for (const auto& entry : field.node->entries) {
    Field f = child(field, entry.key, entry.value, entry.mark);
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), entry.key) == allowed.end()) {
      std::string rule = "unknown field";
      for (const auto& name : allowed) {
        if (distance(entry.key, name) <= 2) {
          rule += " (did you mean '" + std::string(name) + "'?)";
          break;
        }
      }
      return error(f, rule + "; " + (field.path.empty() ? "the top level" : field.path) +
                          " takes: " + join(allowed));
    }
    object.fields.push_back(std::move(f));
  }
  return object;
}

Result<Field> Reader::require(const Object& object, std::string_view name) const {
  if (auto field = object.get(name)) return *field;
  Field missing = child(object.self, name, *object.self.node, object.self.mark);
  return error(missing, "is required");
}

Result<std::vector<Field>> Reader::list(const Field& field) const {
  if (field.node->kind != Node::Kind::sequence) return error(field, "expected a list");
  std::vector<Field> out;
  for (std::size_t i = 0; i < field.node->items.size(); ++i) {
    out.push_back(item(field, i, field.node->items[i]));
  }
  return out;
}

Result<std::string> Reader::string(const Field& field) const {
  if (field.node->kind != Node::Kind::scalar) return error(field, "expected a string");
  if (!valid_utf8(field.node->scalar)) return error(field, "is not valid UTF-8");
  return field.node->scalar;
}

Result<long long> Reader::integer(const Field& field, long long min, long long max,
                                  const std::string& range_text) const {
  std::string range =
      range_text.empty() ? std::to_string(min) + " and " + std::to_string(max) : range_text;
  const Node& node = *field.node;
  std::string_view text = node.scalar;
  std::string_view digits = !text.empty() && text[0] == '-' ? text.substr(1) : text;
  if (node.kind != Node::Kind::scalar || !node.plain || !all_digits(digits) ||
      (digits.size() > 1 && digits[0] == '0') || digits.size() > 15) {
    return error(field, "must be an integer between " + range);
  }
  long long value = std::stoll(std::string(text));
  if (value < min || value > max) return error(field, "must be between " + range);
  return value;
}

Result<bool> Reader::boolean(const Field& field) const {
  const Node& node = *field.node;
  if (node.kind == Node::Kind::scalar && node.plain) {
    if (node.scalar == "true") return true;
    if (node.scalar == "false") return false;
  }
  return error(field, "must be true or false");
}

Result<double> Reader::number(const Field& field, double min, double max) const {
  std::ostringstream range;
  range << "must be a number between " << min << " and " << max;
  const Node& node = *field.node;
  std::string_view text = node.scalar;
  auto dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "1" : text.substr(dot + 1);
  if (node.kind != Node::Kind::scalar || !node.plain || !all_digits(whole) ||
      !all_digits(fraction) || whole.size() > 6 || fraction.size() > 6) {
    return error(field, range.str());
  }
  double value = 0;  // from_chars: independent of the C locale, unlike strtod
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
    return error(field, range.str());
  }
  return value;
}

Result<std::chrono::seconds> Reader::duration(const Field& field) const {
  const Node& node = *field.node;
  std::string_view text = node.scalar;
  std::string_view number = text.empty() ? text : text.substr(0, text.size() - 1);
  char unit = text.empty() ? '\0' : text.back();
  if (node.kind != Node::Kind::scalar || !all_digits(number) || number.size() > 9 ||
      std::string_view("smhd").find(unit) == std::string_view::npos || unit == '\0') {
    return error(field, "'" + node.scalar +
                            "' is not a duration: a positive whole number with unit s, m, h or "
                            "d (90s, 10m, 2h, 1d)");
  }
  long long n = std::stoll(std::string(number));
  long long scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
  if (n == 0) return error(field, "must be longer than 0");
  if (n * scale > 30LL * 86400) return error(field, "must be at most 30d");
  return std::chrono::seconds{n * scale};
}

Result<int> Reader::time_of_day(const Field& field) const {
  const Node& node = *field.node;
  std::string_view t = node.scalar;
  if (node.kind != Node::Kind::scalar || t.size() != 5 || t[2] != ':' ||
      !all_digits(t.substr(0, 2)) || !all_digits(t.substr(3, 2)) ||
      std::stoi(std::string(t.substr(0, 2))) > 23 || std::stoi(std::string(t.substr(3, 2))) > 59) {
    return error(field, "'" + node.scalar + "' is not a time of day HH:MM (00:00 to 23:59)");
  }
  return std::stoi(std::string(t.substr(0, 2))) * 60 + std::stoi(std::string(t.substr(3, 2)));
}

}  // namespace pw::fleet::detail
