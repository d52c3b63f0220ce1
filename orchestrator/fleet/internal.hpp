// Internal to pw_fleet: a plain tree of the YAML document (so yaml-cpp stays inside
// yaml_tree.cpp) and the time zone lookup (so date/tz stays inside windows.cpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::fleet::detail {

struct Mark {
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
};

struct Node {
  enum class Kind { null, scalar, sequence, map };
  struct Entry;

  Kind kind = Kind::null;
  Mark mark;
  std::string scalar;  // Kind::scalar
  bool plain = false;  // an unquoted scalar (numbers and booleans must be plain)
  std::vector<Node> items;
  std::vector<Entry> entries;  // in document order; keys are unique
};

struct Node::Entry {
  std::string key;
  Mark mark;  // of the key
  Node value;
};

inline constexpr std::size_t kMaxDocumentBytes = 1024 * 1024;
inline constexpr std::size_t kMaxDepth = 32;

// An error located in the document: its context is "SOURCE:LINE:COLUMN" (or "SOURCE"
// when the mark is unknown), so to_string() reads "fleet.yaml:12:5: message".
Error located_error(Errc code, std::string_view source, Mark mark, std::string message);

// Parses exactly one YAML document. Refuses aliases, explicit tags, non-string mapping
// keys, duplicate keys, nesting deeper than kMaxDepth and more than one document; every
// yaml-cpp exception becomes an Errc::parse error.
Result<Node> load_yaml(std::string_view text, std::string_view source);

// A value in the document with its field path ("regions[0].servers") and the position
// errors point at (the key's, for a mapping entry).
struct Field {
  const Node* node = nullptr;
  std::string path;
  Mark mark;
};

// The entries of a mapping, as fields.
struct Object {
  Field self;
  std::vector<Field> fields;  // document order

  std::optional<Field> get(std::string_view name) const;
};

// Typed access with errors "SOURCE:LINE:COL: PATH: rule". Numbers, booleans and
// durations must be plain (unquoted) scalars; strings may be plain or quoted.
class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  Error error(const Field& field, const std::string& rule, Errc code = Errc::parse) const;

  // A mapping whose keys are all in `allowed` (any key when `allowed` is empty).
  Result<Object> object(const Field& field, const std::vector<std::string_view>& allowed) const;
  Result<Field> require(const Object& object, std::string_view name) const;
  Result<std::vector<Field>> list(const Field& field) const;
  Result<std::string> string(const Field& field) const;  // valid UTF-8
  // `range` replaces "MIN and MAX" in the message when given.
  Result<long long> integer(const Field& field, long long min, long long max,
                            const std::string& range = {}) const;
  Result<bool> boolean(const Field& field) const;  // true | false
  Result<double> number(const Field& field, double min, double max) const;
  // "90s", "10m", "2h", "1d": a positive whole number and a unit, at most 30 days.
  Result<std::chrono::seconds> duration(const Field& field) const;
  // "HH:MM", 00:00..23:59, as minutes after midnight.
  Result<int> time_of_day(const Field& field) const;

 private:
  std::string_view source_;
};

Field child(const Field& parent, std::string_view name, const Node& node, Mark mark);
Field item(const Field& parent, std::size_t index, const Node& node);

// True when the tz database knows the zone (date::locate_zone).
bool timezone_exists(const std::string& name);

}  // namespace pw::fleet::detail
