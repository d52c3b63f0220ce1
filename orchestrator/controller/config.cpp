#include "orchestrator/controller/config.hpp"

#include <yaml-cpp/yaml.h>

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

namespace pw::controller {
namespace {

Result<std::chrono::seconds> duration(const std::string& text, const std::string& field) {
  std::uint64_t value = 0;
  auto bad = make_error(Errc::invalid_argument,
                        field + ": '" + text + "' must be a duration like 90s, 10m, 2h or 1d");
  if (text.size() < 2) return bad;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, value);
  if (ec != std::errc() || end != text.data() + text.size() - 1 || value == 0) return bad;
  switch (text.back()) {
    case 's':
      return std::chrono::seconds(value);
    case 'm':
      return std::chrono::seconds(value * 60);
    case 'h':
      return std::chrono::seconds(value * 3600);
    case 'd':
      return std::chrono::seconds(value * 86400);
    default:
      return bad;
  }
}

Status only_keys(const YAML::Node& node, const std::string& where,
                 const std::set<std::string>& allowed) {
  if (!node.IsMap()) return make_error(Errc::invalid_argument, where + ": must be a mapping");
  for (const auto& entry : node) {
    auto key = entry.first.as<std::string>();
    if (!allowed.count(key)) {
      return make_error(Errc::invalid_argument,
                        (where.empty() ? "" : where + ".") + key + ": unknown key");
    }
  }
  return Ok{};
}

// Webhook URLs carry secrets: errors name the entry (notifications.webhooks[0].url),
// never the URL.
Status parse_notifications(const YAML::Node& node, notify::Options& options) {
  PW_TRY(only_keys(node, "notifications", {"webhooks", "max_attempts", "timeout", "ca_file"}));
  auto bad = [](const std::string& what) {
    return make_error(Errc::invalid_argument, "notifications." + what);
  };
  if (const auto webhooks = node["webhooks"]) {
    if (!webhooks.IsSequence()) return bad("webhooks: must be a list of {url, events}");
    for (std::size_t i = 0; i < webhooks.size(); ++i) {
      std::string where = "webhooks[" + std::to_string(i) + "]";
      const auto entry = webhooks[i];
      PW_TRY(only_keys(entry, "notifications." + where, {"url", "events"}));
      if (!entry["url"]) return bad(where + ".url: is required");
      notify::Webhook webhook{entry["url"].as<std::string>(), {}};
      if (const auto events = entry["events"]) {
        if (!events.IsSequence() || events.size() == 0) {
          return bad(where + ".events: must list event names (leave it out for all)");
        }
        for (const auto& event : events) webhook.events.push_back(event.as<std::string>());
      }
      for (std::size_t j = 0; j < options.webhooks.size(); ++j) {
        if (options.webhooks[j].url == webhook.url) {
          return bad(where + ".url: the same URL as webhooks[" + std::to_string(j) + "]");
        }
      }
      options.webhooks.push_back(std::move(webhook));
    }
  }
  if (node["max_attempts"]) {
    options.max_attempts = node["max_attempts"].as<int>();
    if (options.max_attempts < 1 || options.max_attempts > 100) {
      return bad("max_attempts: must be 1-100");
    }
  }
  if (node["timeout"]) {
    PW_TRY_ASSIGN(auto timeout,
                  duration(node["timeout"].as<std::string>(), "notifications.timeout"));
    options.timeout = timeout;
  }
  if (node["ca_file"]) {
    options.ca_file = node["ca_file"].as<std::string>();
    if (!std::ifstream(options.ca_file)) {
      return bad("ca_file: cannot read " + options.ca_file);
    }
  }
  auto valid = notify::validate(options);
  if (!valid.ok()) return bad(valid.error().message);
  return Ok{};
}

// https://HOST:PORT and nothing more: agents append the API's paths to it.
Status check_agent_url(const std::string& url) {
  const std::string scheme = "https://";
  auto bad = [&url] {
    return make_error(Errc::invalid_argument,
                      "agent_url: '" + url + "' must be https://HOST:PORT (no path)");
  };
  if (url.rfind(scheme, 0) != 0) return bad();
  std::string rest = url.substr(scheme.size());
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || rest.find('/') != std::string::npos) {
    return bad();
  }
  std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
      std::stoul(port) > 65535) {
    return bad();
  }
  return Ok{};
}

// The password comes from a file (its first line) or an environment variable, never
// from the YAML or the URL; errors name the field, never the password.
Result<std::string> store_password(const YAML::Node& node) {
  auto bad = [](const std::string& what) {
    return make_error(Errc::invalid_argument, "store." + what);
  };
  if (node["password_file"] && node["password_env"]) {
    return bad("password_file: give password_file or password_env, not both");
  }
  if (const auto file = node["password_file"]) {
    auto path = file.as<std::string>();
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return bad("password_file: cannot read " + path);
    if ((info.st_mode & S_IRWXO) != 0) {
      return make_error(Errc::permission,
                        "store.password_file: " + path + " is readable by others (chmod o-rwx it)");
    }
    std::ifstream in(path);
    std::string password;
    if (!in || !std::getline(in, password) || password.empty()) {
      return bad("password_file: " + path + " must hold the password on its first line");
    }
    return password;
  }
  if (const auto env = node["password_env"]) {
    auto name = env.as<std::string>();
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') {
      return bad("password_env: the environment variable " + name + " is not set");
    }
    return std::string(value);
  }
  return std::string();
}

// store: {backend: sqlite, path: FILE} (the default: <state_dir>/store.db) or
// store: {backend: postgresql, url: postgresql://USER@HOST:PORT/DB, password_file|password_env}
Status parse_store(const YAML::Node& node, Config& config) {
  PW_TRY(only_keys(node, "store", {"backend", "path", "url", "password_file", "password_env"}));
  auto bad = [](const std::string& what) {
    return make_error(Errc::invalid_argument, "store." + what);
  };
  std::string backend = node["backend"] ? node["backend"].as<std::string>() : "sqlite";
  if (backend == "sqlite") {
    for (const char* key : {"url", "password_file", "password_env"}) {
      if (node[key]) return bad(std::string(key) + ": only for backend postgresql");
    }
    if (node["path"]) {
      config.store = store::Location::sqlite(node["path"].as<std::string>());
      if (config.store.path.empty()) return bad("path: must not be empty");
    }
    return Ok{};
  }
  if (backend != "postgresql") return bad("backend: must be sqlite or postgresql");
  if (node["path"]) return bad("path: only for backend sqlite (postgresql takes url)");
  if (!node["url"]) return bad("url: is required for backend postgresql");
  PW_TRY_ASSIGN(std::string password, store_password(node));
  auto where = store::Location::postgresql(node["url"].as<std::string>(), std::move(password));
  if (!where.ok()) return bad("url: " + where.error().message);
  config.store = std::move(*where);
  return Ok{};
}

Result<Config> parse(const YAML::Node& root) {
  Config config;
  PW_TRY(only_keys(
      root, "",
      {"state_dir", "listen", "name", "manifests", "audit", "max_request_bytes", "agent_binary",
       "agent_url", "servers_dir", "traffic", "rollout", "notifications", "store", "replica"}));
  auto text = [](const YAML::Node& node) { return node.as<std::string>(); };
  if (root["state_dir"]) config.state_dir = text(root["state_dir"]);
  if (root["listen"]) config.listen = text(root["listen"]);
  if (root["name"]) config.name = text(root["name"]);
  if (root["agent_binary"]) config.agent_binary = text(root["agent_binary"]);
  if (root["servers_dir"]) config.servers_dir = text(root["servers_dir"]);
  if (root["agent_url"]) {
    config.agent_url = text(root["agent_url"]);
    PW_TRY(check_agent_url(config.agent_url));
  }
  if (root["max_request_bytes"])
    config.max_request_bytes = root["max_request_bytes"].as<std::uint64_t>();
  if (const auto manifests = root["manifests"]) {
    PW_TRY(only_keys(manifests, "manifests", {"repository", "root", "sync_interval"}));
    if (manifests["repository"]) config.repository = text(manifests["repository"]);
    if (manifests["root"]) config.root = text(manifests["root"]);
    if (manifests["sync_interval"]) {
      PW_TRY_ASSIGN(config.sync_interval,
                    duration(text(manifests["sync_interval"]), "manifests.sync_interval"));
    }
  }
  if (const auto audit = root["audit"]) {
    PW_TRY(only_keys(audit, "audit", {"anchor", "checkpoint_interval"}));
    if (audit["anchor"]) config.anchor = text(audit["anchor"]);
    if (audit["checkpoint_interval"]) {
      PW_TRY_ASSIGN(config.checkpoint_interval,
                    duration(text(audit["checkpoint_interval"]), "audit.checkpoint_interval"));
    }
  }
  if (const auto traffic = root["traffic"]) {
    PW_TRY(only_keys(traffic, "traffic", {"mode", "socket", "frontends"}));
    if (traffic["mode"]) config.traffic_mode = text(traffic["mode"]);
    if (config.traffic_mode != "managed" && config.traffic_mode != "attach") {
      return make_error(Errc::invalid_argument, "traffic.mode: must be managed or attach");
    }
    if (traffic["socket"]) config.traffic_socket = text(traffic["socket"]);
    if (const auto frontends = traffic["frontends"]) {
      if (!frontends.IsMap()) {
        return make_error(Errc::invalid_argument,
                          "traffic.frontends: must map region names to ADDRESS:PORT");
      }
      for (const auto& entry : frontends) {
        config.frontends[entry.first.as<std::string>()] = text(entry.second);
      }
    }
  }
  if (const auto rollout = root["rollout"]) {
    PW_TRY(only_keys(rollout, "rollout",
                     {"provision_timeout", "stage_timeout", "health_timeout", "min_requests",
                      "inconclusive_grace", "max_parallel"}));
    const std::pair<const char*, std::chrono::seconds*> durations[] = {
        {"provision_timeout", &config.provision_timeout},
        {"stage_timeout", &config.stage_timeout},
        {"health_timeout", &config.health_timeout},
        {"inconclusive_grace", &config.inconclusive_grace}};
    for (const auto& [key, target] : durations) {
      if (rollout[key]) {
        PW_TRY_ASSIGN(*target, duration(text(rollout[key]), std::string("rollout.") + key));
      }
    }
    if (rollout["min_requests"]) config.min_requests = rollout["min_requests"].as<std::uint64_t>();
    if (rollout["max_parallel"]) {
      config.max_parallel = rollout["max_parallel"].as<int>();
      if (config.max_parallel < 1 || config.max_parallel > 100) {
        return make_error(Errc::invalid_argument, "rollout.max_parallel: must be 1-100");
      }
    }
  }
  if (const auto notifications = root["notifications"]) {
    PW_TRY(parse_notifications(notifications, config.notifications));
  }
  if (const auto store = root["store"]) PW_TRY(parse_store(store, config));
  if (const auto replica = root["replica"]) {
    PW_TRY(only_keys(replica, "replica", {"id", "lease"}));
    if (replica["id"]) {
      config.replica_id = text(replica["id"]);
      if (config.replica_id.empty() || config.replica_id.size() > 200) {
        return make_error(Errc::invalid_argument, "replica.id: must be 1-200 characters");
      }
    }
    if (replica["lease"]) {
      PW_TRY_ASSIGN(config.lease, duration(text(replica["lease"]), "replica.lease"));
      if (config.lease < std::chrono::seconds(2) || config.lease > std::chrono::seconds(300)) {
        return make_error(Errc::invalid_argument, "replica.lease: must be 2s-300s");
      }
    }
  }
  const std::pair<const char*, const std::string*> required[] = {
      {"state_dir", &config.state_dir},
      {"manifests.repository", &config.repository},
      {"manifests.root", &config.root}};
  for (const auto& [key, value] : required) {
    if (value->empty())
      return make_error(Errc::invalid_argument, std::string(key) + ": is required");
  }
  if (config.store.backend == store::Dialect::sqlite && config.store.path.empty()) {
    config.store.path = config.state_dir + "/store.db";
  }
  if (config.replica_id.empty()) {
    // Unique on a machine: serve locks its state directory.
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "localhost");
    std::error_code ec;
    auto where = std::filesystem::absolute(config.state_dir, ec);
    config.replica_id = std::string(host) + ":" + (ec ? config.state_dir : where.string());
  }
  if (config.anchor.empty()) config.anchor = config.state_dir + "/audit-anchor";
  if (config.servers_dir.empty()) config.servers_dir = config.state_dir + "/servers";
  if (config.traffic_socket.empty()) {
    if (config.traffic_mode == "attach") {
      return make_error(Errc::invalid_argument, "traffic.socket: is required in attach mode");
    }
    config.traffic_socket = config.state_dir + "/haproxy/admin.sock";
  }
  PW_TRY(config.listen_endpoint());
  return config;
}

}  // namespace

Result<std::pair<std::string, std::uint16_t>> Config::listen_endpoint() const {
  auto colon = listen.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos || colon == 0) {
    return make_error(Errc::invalid_argument, "listen: '" + listen + "' must be ADDRESS:PORT");
  }
  auto [end, ec] = std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
  if (ec != std::errc() || end != listen.data() + listen.size() || port > 65535) {
    return make_error(Errc::invalid_argument, "listen: '" + listen + "' must be ADDRESS:PORT");
  }
  return std::make_pair(listen.substr(0, colon), static_cast<std::uint16_t>(port));
}

std::string Config::url() const {
  if (!agent_url.empty()) return agent_url;
  auto endpoint = listen_endpoint();
  if (!endpoint.ok()) return {};
  std::string host = endpoint->first == "0.0.0.0" ? "127.0.0.1" : endpoint->first;
  return "https://" + host + ":" + std::to_string(endpoint->second);
}

Result<Config> load_config(const std::string& path) {
  try {
    auto parsed = parse(YAML::LoadFile(path));
    if (!parsed.ok()) return std::move(parsed).error().with_context(path);
    return parsed;
  } catch (const YAML::BadFile&) {
    return make_error(Errc::not_found, path + ": cannot open the configuration");
  } catch (const YAML::Exception& e) {
    return make_error(Errc::parse, path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                       std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

}  // namespace pw::controller
