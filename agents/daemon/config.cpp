#include "agents/daemon/config.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <variant>

#include "common/json/json.hpp"

namespace pw::agent {
namespace {

using Field = std::variant<std::string AgentConfig::*, std::uint64_t AgentConfig::*,
                           std::vector<std::string> AgentConfig::*>;

const std::vector<std::pair<std::string, Field>>& fields() {
  static const std::vector<std::pair<std::string, Field>> table = {
      {"name", &AgentConfig::name},
      {"state_dir", &AgentConfig::state_dir},
      {"listen", &AgentConfig::listen},
      {"controller_url", &AgentConfig::controller_url},
      {"controller_ca", &AgentConfig::controller_ca},
      {"controller_name", &AgentConfig::controller_name},
      {"pinned_root", &AgentConfig::pinned_root},
      {"enrollment_token", &AgentConfig::enrollment_token},
      {"enrollment_token_file", &AgentConfig::enrollment_token_file},
      {"certificate_ips", &AgentConfig::certificate_ips},
      {"certificate_dns", &AgentConfig::certificate_dns},
      {"log_format", &AgentConfig::log_format},
      {"startup_window_ms", &AgentConfig::startup_window_ms},
      {"stop_grace_ms", &AgentConfig::stop_grace_ms},
      {"service_log_cap_bytes", &AgentConfig::service_log_cap_bytes},
      {"max_request_bytes", &AgentConfig::max_request_bytes},
      {"network_timeout_ms", &AgentConfig::network_timeout_ms},
      {"download_attempts", &AgentConfig::download_attempts},
  };
  return table;
}

const Field* find_field(const std::string& key) {
  for (const auto& [name, field] : fields()) {
    if (name == key) return &field;
  }
  return nullptr;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Status set_from_json(AgentConfig& config, const std::string& key, const json::Value& value,
                     const std::string& where) {
  const Field* field = find_field(key);
  if (field == nullptr)
    return make_error(Errc::invalid_argument, where + ": unknown key '" + key + "'");
  auto wrong = [&](const char* type) {
    return make_error(Errc::invalid_argument, where + ": '" + key + "' must be " + type);
  };
  if (auto* text = std::get_if<std::string AgentConfig::*>(field)) {
    if (!value.is_string()) return wrong("a string");
    config.*(*text) = value.get<std::string>();
  } else if (auto* number = std::get_if<std::uint64_t AgentConfig::*>(field)) {
    if (!value.is_number_unsigned()) return wrong("a non-negative integer");
    config.*(*number) = value.get<std::uint64_t>();
  } else {
    auto* list = std::get_if<std::vector<std::string> AgentConfig::*>(field);
    if (!value.is_array()) return wrong("a list of strings");
    std::vector<std::string> items;
    for (const auto& item : value) {
      if (!item.is_string()) return wrong("a list of strings");
      items.push_back(item.get<std::string>());
    }
    config.*(*list) = std::move(items);
  }
  return Ok{};
}

}  // namespace

Status set_config_value(AgentConfig& config, const std::string& key, const std::string& value) {
  const Field* field = find_field(key);
  if (field == nullptr) return make_error(Errc::invalid_argument, "unknown setting '" + key + "'");
  if (auto* text = std::get_if<std::string AgentConfig::*>(field)) {
    config.*(*text) = value;
  } else if (auto* number = std::get_if<std::uint64_t AgentConfig::*>(field)) {
    std::uint64_t parsed = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (ec != std::errc() || end != value.data() + value.size()) {
      return make_error(Errc::invalid_argument,
                        "'" + key + "' must be a non-negative integer, not '" + value + "'");
    }
    config.*(*number) = parsed;
  } else {
    config.*(*std::get_if<std::vector<std::string> AgentConfig::*>(field)) = split_list(value);
  }
  return Ok{};
}

Result<AgentConfig> load_config(const std::string& file,
                                const std::function<const char*(const char*)>& getenv) {
  AgentConfig config;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(Errc::not_found, file + ": cannot open the configuration file");
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = json::parse(text.str());
    if (!parsed.ok()) return std::move(parsed).error().with_context(file);
    if (!parsed->is_object()) {
      return make_error(Errc::invalid_argument, file + ": the configuration must be a JSON object");
    }
    for (auto it = parsed->begin(); it != parsed->end(); ++it) {
      PW_TRY(set_from_json(config, it.key(), it.value(), file));
    }
  }
  for (const auto& [key, field] : fields()) {
    std::string variable = "PATCHWAVE_AGENT_";
    for (char c : key) variable += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (const char* value = getenv(variable.c_str())) {
      auto status = set_config_value(config, key, value);
      if (!status.ok()) return std::move(status).error().with_context(variable);
    }
  }
  return config;
}

Result<std::pair<std::string, std::uint16_t>> AgentConfig::listen_endpoint() const {
  auto colon = listen.rfind(':');
  auto bad = [&] {
    return make_error(Errc::invalid_argument,
                      "listen: '" + listen + "' must be ADDRESS:PORT, e.g. 127.0.0.1:7443");
  };
  if (colon == std::string::npos || colon == 0) return bad();
  std::string address = listen.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  unsigned port = 0;
  const char* begin = listen.data() + colon + 1;
  const char* end = listen.data() + listen.size();
  auto [stop, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || stop != end || port > 65535) return bad();
  return std::make_pair(address, static_cast<std::uint16_t>(port));
}

Status validate(const AgentConfig& config) {
  const std::pair<const char*, const std::string*> required[] = {
      {"name", &config.name},
      {"state_dir", &config.state_dir},
      {"controller_url", &config.controller_url},
      {"controller_ca", &config.controller_ca},
      {"pinned_root", &config.pinned_root},
  };
  for (const auto& [key, value] : required) {
    if (value->empty()) {
      return make_error(Errc::invalid_argument, std::string("'") + key + "' is required");
    }
  }
  if (config.name.size() > 64 ||
      config.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") !=
          std::string::npos) {
    return make_error(Errc::invalid_argument,
                      "name: '" + config.name +
                          "' must be 1-64 characters of lowercase letters, digits, '-' and '.'");
  }
  if (config.log_format != "text" && config.log_format != "json") {
    return make_error(Errc::invalid_argument, "log_format: must be text or json");
  }
  if (config.download_attempts == 0) {
    return make_error(Errc::invalid_argument, "download_attempts: must be at least 1");
  }
  PW_TRY(config.listen_endpoint());
  return Ok{};
}

}  // namespace pw::agent
