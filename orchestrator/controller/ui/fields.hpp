// Reading the API's JSON answers without exceptions: a missing or mistyped field reads
// as empty (null, "", 0, []). Internal to the dashboard's views.
#pragma once

#include <initializer_list>
#include <string>

#include "common/json/json.hpp"
#include "orchestrator/controller/ui/history.hpp"

namespace pw::dashboard::fields {

inline const json::Value& null_value() {
  static const json::Value kNull;
  return kNull;
}

inline const json::Value& member(const json::Value& object, const char* name) {
  if (!object.is_object()) return null_value();
  auto found = object.find(name);
  return found == object.end() ? null_value() : *found;
}

inline std::string text(const json::Value& object, const char* name) {
  const json::Value& v = member(object, name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

inline Millis millis(const json::Value& object, const char* name) {
  const json::Value& v = member(object, name);
  return v.is_number() ? v.get<Millis>() : 0;
}

inline const json::Value& array(const json::Value& object, const char* name) {
  static const json::Value kEmpty = json::Value::array();
  const json::Value& v = member(object, name);
  return v.is_array() ? v : kEmpty;
}

inline bool one_of(const std::string& value, std::initializer_list<const char*> values) {
  for (const char* v : values) {
    if (value == v) return true;
  }
  return false;
}

// The strings (and numbers) of a list joined; `shorten`: each cut to 8 characters
// (key ids).
inline std::string joined(const json::Value& list, const std::string& separator,
                          bool shorten = false) {
  std::string out;
  for (const auto& item : list) {
    if (!item.is_string() && !item.is_number()) continue;
    std::string word = item.is_string() ? item.get<std::string>() : item.dump();
    out += (out.empty() ? "" : separator) + (shorten ? word.substr(0, 8) : word);
  }
  return out;
}

}  // namespace pw::dashboard::fields
