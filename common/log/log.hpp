// Structured logging for the long-running processes (agent, controller): one line per
// event on stderr, readable by default ("2026-11-29T02:10:00Z info staged sha256=...")
// or JSON lines with --log-format json. Callers never pass secrets (tokens, keys).
#pragma once

#include <string>
#include <string_view>

#include "common/json/json.hpp"

namespace pw::log {

enum class Format { text, json };
enum class Level { info, warn, error };

void set_format(Format format);
// Every line carries `program` ("patchwave-agent").
void set_program(std::string program);

void write(Level level, std::string_view event, const json::Value& fields = json::Value::object());
inline void info(std::string_view event, const json::Value& fields = json::Value::object()) {
  write(Level::info, event, fields);
}
inline void warn(std::string_view event, const json::Value& fields = json::Value::object()) {
  write(Level::warn, event, fields);
}
inline void error(std::string_view event, const json::Value& fields = json::Value::object()) {
  write(Level::error, event, fields);
}

// RFC 3339 UTC with seconds, from the system clock.
std::string now_rfc3339();

}  // namespace pw::log
