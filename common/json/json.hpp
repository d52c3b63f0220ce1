// JSON for signed documents. nlohmann::json is the in-memory value type of the whole
// project (objects are std::map, so keys iterate in byte order); this module adds
//  - a reader with limits that refuses what TUF forbids (duplicate keys, floats,
//    excessive size or depth, invalid UTF-8), and
//  - the OLPC canonical writer used for everything that is hashed or signed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/errors/result.hpp"

namespace pw::json {

using Value = nlohmann::json;

struct ParseLimits {
  std::size_t max_bytes = 16 * 1024 * 1024;
  std::size_t max_depth = 32;
  bool allow_floats = false;  // TUF's canonical JSON has no floats
};

// Parses a complete document. Errors name the rule broken and the byte offset.
Result<Value> parse(std::string_view text, const ParseLimits& limits = {});

// OLPC canonical JSON: keys sorted by bytes, no whitespace, only '"' and '\' escaped,
// integers only. Fails on floats.
Result<std::string> canonical(const Value& value);

// Typed field access with errors that name the field: "field 'version': expected
// an unsigned integer". `where` names the object (e.g. "signed" or a file name).
Result<const Value*> field(const Value& object, std::string_view name, std::string_view where);
Result<std::string> get_string(const Value& object, std::string_view name, std::string_view where);
Result<std::uint64_t> get_uint(const Value& object, std::string_view name, std::string_view where);
Result<bool> get_bool(const Value& object, std::string_view name, std::string_view where);
Result<const Value*> get_object(const Value& object, std::string_view name, std::string_view where);
Result<const Value*> get_array(const Value& object, std::string_view name, std::string_view where);

}  // namespace pw::json
