#include "common/log/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace pw::log {
namespace {

std::mutex g_mutex;
Format g_format = Format::text;
std::string g_program = "patchwave";

const char* level_name(Level level) {
  switch (level) {
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

// Values that need quoting in text lines: empty, or containing spaces, quotes or '='.
std::string text_value(const json::Value& value) {
  if (!value.is_string()) return value.dump();
  const auto& text = value.get_ref<const std::string&>();
  if (!text.empty() && text.find_first_of(" \"=\n\t") == std::string::npos) return text;
  return value.dump();
}

}  // namespace

void set_format(Format format) {
  std::lock_guard lock(g_mutex);
  g_format = format;
}

void set_program(std::string program) {
  std::lock_guard lock(g_mutex);
  g_program = std::move(program);
}

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

void write(Level level, std::string_view event, const json::Value& fields) {
  std::string line;
  std::lock_guard lock(g_mutex);
  if (g_format == Format::json) {
    json::Value out = {{"time", now_rfc3339()},
                       {"level", level_name(level)},
                       {"program", g_program},
                       {"event", std::string(event)}};
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) out[it.key()] = it.value();
    }
    line = out.dump(-1, ' ', false, json::Value::error_handler_t::replace);
  } else {
    line = now_rfc3339() + " " + level_name(level) + " " + std::string(event);
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        line += " " + it.key() + "=" + text_value(it.value());
      }
    }
  }
  line += "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace pw::log
