#include "agents/daemon/agent.hpp"

#include <arpa/inet.h>

#include <filesystem>

#include "common/log/log.hpp"

namespace pw::agent {
namespace fs = std::filesystem;

namespace {

net::Response to_response(const Reply& reply) {
  return net::Response{reply.status, "application/json", reply.body.dump() + "\n", {}};
}

Reply not_found(const std::string& what) { return error_reply(make_error(Errc::not_found, what)); }

std::string substitute(std::string arg, const std::string& key, const std::string& value) {
  for (auto at = arg.find(key); at != std::string::npos; at = arg.find(key, at + value.size())) {
    arg.replace(at, key.size(), value);
  }
  return arg;
}

// The host part of the agent's own listen address: the address its service listens on
// (the local provider gives every server its own 127.R.S.N).
std::string listen_host(const AgentConfig& config) {
  auto endpoint = config.listen_endpoint();
  return endpoint.ok() ? endpoint->first : "127.0.0.1";
}

// Where health checks connect: the listen host, or loopback when that is a wildcard.
std::string probe_host(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return v4.s_addr == htonl(INADDR_ANY) ? "127.0.0.1" : host;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_UNSPECIFIED(&v6) ? "::1" : host;
  }
  return "127.0.0.1";
}

json::Value service_json(const ServiceStatus& status) {
  json::Value out = {{"state", state_name(status.state)},
                     {"release", status.name},
                     {"pid", status.pid},
                     {"since_unix_ms", status.since_unix_ms},
                     {"starts", status.starts},
                     {"restarts", status.starts > 0 ? status.starts - 1 : 0}};
  out["last_exit_code"] = status.exit_code ? json::Value(*status.exit_code) : json::Value();
  out["last_signal"] = status.signal ? json::Value(*status.signal) : json::Value();
  return out;
}

}  // namespace

Agent::Agent(const AgentConfig& config, Identity identity)
    : config_(config), identity_(std::move(identity)), releases_(config_, identity_) {
  started_at_ = log::now_rfc3339();
}

Result<std::unique_ptr<Agent>> Agent::create(const AgentConfig& config) {
  PW_TRY_ASSIGN(Identity identity, ensure_identity(config));
  std::unique_ptr<Agent> agent(new Agent(config, std::move(identity)));
  PW_TRY(agent->releases_.load());
  return agent;
}

json::Value Agent::status() const {
  json::Value out = {{"agent",
                      {{"name", identity_.common_name},
                       {"certificate_sha256", identity_.fingerprint},
                       {"certificate_not_after", identity_.not_after},
                       {"started_at", started_at_}}}};
  json::Value releases = releases_.to_json();
  out["releases"] = releases["staged"];
  out["jobs"] = releases["jobs"];
  out["service"] = service_json(supervisor_.status());
  std::lock_guard lock(mutex_);
  if (running_) out["service"]["port"] = port_;
  out["health"] = last_health_ ? last_health_->to_json() : json::Value();
  return out;
}

Reply Agent::release_status(const std::string& sha256) const {
  if (auto staged = releases_.find(sha256)) {
    return {200, {{"state", "staged"}, {"release", staged->to_json()}}};
  }
  json::Value releases = releases_.to_json();
  for (const auto& job : releases["jobs"]) {
    if (job["sha256"] == sha256) return {200, job};
  }
  return not_found("no release " + sha256 + " on this agent");
}

Reply Agent::start_service(const std::string& body) {
  auto parsed = json::parse(body.empty() ? "{}" : body);
  if (!parsed.ok()) return error_reply(std::move(parsed).error().with_context("request body"));
  if (!parsed->is_object() || !parsed->contains("release") || !(*parsed)["release"].is_string()) {
    return error_reply(make_error(Errc::invalid_argument,
                                  "request body: expected {\"release\": SHA256, \"port\": N}"));
  }
  std::string sha = (*parsed)["release"].get<std::string>();
  auto staged = releases_.find(sha);
  if (!staged) return not_found("release " + sha + " is not staged on this agent");
  const auto& description = staged->description;
  std::uint16_t port = description.health.port;
  if (parsed->contains("port")) {
    const auto& value = (*parsed)["port"];
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() == 0 ||
        value.get<std::uint64_t>() > 65535) {
      return error_reply(make_error(Errc::invalid_argument, "port: must be 1-65535"));
    }
    port = static_cast<std::uint16_t>(value.get<std::uint64_t>());
  }
  const std::string host = listen_host(config_);
  // One start or stop at a time, so a repeated start cannot race the first one.
  std::lock_guard control(control_mutex_);
  {
    auto current = supervisor_.status();
    std::lock_guard lock(mutex_);
    if (current.state == ServiceStatus::State::running && current.name == sha && running_ &&
        running_->sha256 == sha && port_ == port) {
      // The controller repeats a start it could not see answered: already done.
      json::Value out = service_json(current);
      out["port"] = port_;
      out["host"] = host;
      out["already_running"] = true;
      return {200, out};
    }
  }
  ServiceSpec spec;
  spec.name = sha;
  spec.working_dir = staged->path;
  for (const auto& arg : description.run.argv) {
    spec.argv.push_back(
        substitute(substitute(arg, "{port}", std::to_string(port)), "{host}", host));
  }
  spec.env = description.run.env;
  if (!spec.env.count("PATH")) spec.env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  spec.env["PATCHWAVE_RELEASE"] = sha;
  spec.env["PATCHWAVE_APP"] = description.app;
  spec.env["PATCHWAVE_VERSION"] = description.version.text;
  spec.env["HOST"] = host;
  spec.env["PATCHWAVE_HOST"] = host;
  if (port != 0) spec.env["PORT"] = std::to_string(port);
  spec.log_dir = config_.state_dir + "/logs/" + sha;
  spec.log_cap_bytes = config_.service_log_cap_bytes;
  auto started = supervisor_.start(spec, std::chrono::milliseconds(config_.startup_window_ms));
  if (!started.ok()) {
    log::error("service_start_failed", {{"release", sha}, {"error", started.error().to_string()}});
    return error_reply(std::move(started).error().with_context("starting " + description.app));
  }
  {
    std::lock_guard lock(mutex_);
    running_ = staged;
    port_ = port;
    env_ = spec.env;
    last_health_.reset();
  }
  log::info("service_started",
            {{"release", sha}, {"pid", started->pid}, {"host", host}, {"port", port}});
  json::Value out = service_json(*started);
  out["port"] = port;
  out["host"] = host;
  out["already_running"] = false;
  return {200, out};
}

Reply Agent::stop_service() {
  std::lock_guard control(control_mutex_);
  auto stopped = supervisor_.stop(std::chrono::milliseconds(config_.stop_grace_ms));
  if (!stopped.ok()) return error_reply(stopped.error());
  log::info("service_stopped", {{"release", stopped->name}});
  return {200, service_json(*stopped)};
}

Reply Agent::health() {
  std::optional<StagedRelease> running;
  std::uint16_t port = 0;
  std::map<std::string, std::string> env;
  {
    std::lock_guard lock(mutex_);
    running = running_;
    port = port_;
    env = env_;
  }
  HealthResult result;
  auto service = supervisor_.status();
  if (!running || service.state != ServiceStatus::State::running) {
    result.kind = running ? release::health_kind_name(running->description.health.kind) : "none";
    result.checked_at = log::now_rfc3339();
    result.detail =
        service.state == ServiceStatus::State::exited
            ? "the service exited" +
                  (service.signal
                       ? " (signal " + std::to_string(*service.signal) + ")"
                       : " (code " + std::to_string(service.exit_code.value_or(-1)) + ")")
            : "no service is running";
  } else {
    result = run_health_check(running->description.health, probe_host(listen_host(config_)), port,
                              running->path, env);
  }
  {
    std::lock_guard lock(mutex_);
    last_health_ = result;
  }
  return {result.healthy ? 200 : 503, result.to_json()};
}

Reply Agent::decommission() {
  std::lock_guard control(control_mutex_);
  auto stopped = supervisor_.stop(std::chrono::milliseconds(config_.stop_grace_ms));
  releases_.wipe();
  std::error_code ignored;
  fs::remove_all(config_.state_dir + "/logs", ignored);
  fs::remove_all(config_.state_dir + "/tls", ignored);
  decommissioned_ = true;
  log::info("decommissioned", {{"name", identity_.common_name}});
  return {200, {{"decommissioned", true}, {"name", identity_.common_name}}};
}

void Agent::shutdown() {
  std::lock_guard control(control_mutex_);
  (void)supervisor_.stop(std::chrono::milliseconds(config_.stop_grace_ms));
}

net::Response Agent::handle(const net::Request& request) {
  if (decommissioned()) {
    return to_response(error_reply(make_error(Errc::conflict, "this agent is decommissioned")));
  }
  std::string path = request.target.substr(0, request.target.find('?'));
  const std::string& method = request.method;
  auto wrong_method = [&] {
    return to_response(
        {405,
         {{"error", {{"code", "method"}, {"message", method + " is not allowed on " + path}}}}});
  };
  const std::string releases_prefix = "/v1/releases/";
  Reply reply;
  if (path == "/v1/status") {
    if (method != "GET") return wrong_method();
    reply = {200, status()};
  } else if (path.rfind(releases_prefix, 0) == 0) {
    std::string sha = path.substr(releases_prefix.size());
    if (method == "PUT") {
      reply = releases_.put(sha, request.body);
    } else if (method == "GET") {
      reply = release_status(sha);
    } else {
      return wrong_method();
    }
  } else if (path == "/v1/service/start") {
    if (method != "POST") return wrong_method();
    reply = start_service(request.body);
  } else if (path == "/v1/service/stop") {
    if (method != "POST") return wrong_method();
    reply = stop_service();
  } else if (path == "/v1/health") {
    if (method != "GET") return wrong_method();
    reply = health();
  } else if (path == "/v1/decommission") {
    if (method != "POST") return wrong_method();
    reply = decommission();
  } else {
    reply = not_found("no such endpoint: " + path);
  }
  return to_response(reply);
}

}  // namespace pw::agent
