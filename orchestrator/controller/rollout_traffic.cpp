// The rollout engine's ports that reach over the network: agents, direct health probes
// and HAProxy (rollout_ports.hpp).
#include <charconv>
#include <filesystem>
#include <fstream>

#include "common/log/log.hpp"
#include "common/net/http.hpp"
#include "orchestrator/agent_client/agent_client.hpp"
#include "orchestrator/controller/rollout_ports.hpp"
#include "orchestrator/controller/sync.hpp"

namespace pw::controller {
namespace fs = std::filesystem;
using rollout::ServerRef;

namespace {

using agent_client::message_of;  // agents' answers are read field by field, never trusted

Result<std::pair<std::string, std::uint16_t>> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos) {
    return make_error(Errc::invalid_argument, "'" + address + "' is not HOST:PORT");
  }
  auto [end, ec] =
      std::from_chars(address.data() + colon + 1, address.data() + address.size(), port);
  if (ec != std::errc() || end != address.data() + address.size() || port == 0 || port > 65535) {
    return make_error(Errc::invalid_argument, "'" + address + "' is not HOST:PORT");
  }
  return std::make_pair(address.substr(0, colon), static_cast<std::uint16_t>(port));
}

}  // namespace

// --- AgentPort --------------------------------------------------------------------------

std::shared_ptr<agent_client::AgentClient> AgentPort::client_for(const ServerRef& server) {
  // One client per agent: its TLS context (the controller's key and certificate, the CA)
  // is built once, not on every call. The engine calls one server's agent from one
  // thread at a time; the lock guards the map only.
  std::lock_guard lock(clients_mutex_);
  if (clients_.size() > 1024) clients_.clear();  // servers come and go; in use stay alive
  auto& slot = clients_[server.agent];
  if (!slot) {
    slot =
        std::make_shared<agent_client::AgentClient>(tls_, server.agent, std::chrono::seconds(10));
  }
  return slot;
}

Result<rollout::StageReport> AgentPort::stage(const ServerRef& server, const std::string& sha256) {
  auto client = client_for(server);
  agent_client::AgentClient& agent = *client;
  PW_TRY_ASSIGN(auto known, agent.release(sha256));
  if (known.status == 200) {
    auto job = agent_client::job_of(known);
    if (job.state == "staged") return rollout::StageReport{rollout::StageState::staged, "staged"};
    if (job.state != "failed") return rollout::StageReport{rollout::StageState::staging, job.state};
    // A failed job: its error is the answer (the agent verified and refused).
    return rollout::StageReport{rollout::StageState::failed, job.error};
  }
  if (known.status != 404) return make_error(Errc::io, server.name + ": " + message_of(known));
  json::Value metadata;
  {
    std::lock_guard lock(*mutex_);
    PW_TRY_ASSIGN(json::Value last, last_sync(*store_));
    if (last.is_null()) return make_error(Errc::not_found, "no verified manifests yet");
    metadata = last["metadata"];
  }
  PW_TRY_ASSIGN(auto asked, agent.stage(sha256, metadata, url_ + "/v1/artifacts/" + sha256));
  if (asked.status >= 400 && asked.status < 500) {
    return rollout::StageReport{rollout::StageState::failed, message_of(asked)};
  }
  if (asked.status >= 500) return make_error(Errc::io, server.name + ": " + message_of(asked));
  return rollout::StageReport{rollout::StageState::staging, "requested"};
}

Status AgentPort::start(const ServerRef& server, const std::string& sha256, std::uint16_t port) {
  auto client = client_for(server);
  agent_client::AgentClient& agent = *client;
  PW_TRY_ASSIGN(auto started, agent.start(sha256, port));
  if (started.status >= 300) return make_error(Errc::io, message_of(started));
  return Ok{};
}

Result<rollout::HealthReport> AgentPort::health(const ServerRef& server) {
  auto client = client_for(server);
  agent_client::AgentClient& agent = *client;
  PW_TRY_ASSIGN(auto checked, agent.health());
  if (checked.status != 200) return rollout::HealthReport{false, message_of(checked)};
  auto health = agent_client::health_of(checked);
  return rollout::HealthReport{health.healthy, health.detail};
}

Status AgentPort::decommission(const ServerRef& server) {
  auto client = client_for(server);
  agent_client::AgentClient& agent = *client;
  auto gone = agent.decommission();
  {
    // The agent exits: its kept-alive connection and client go with it.
    std::lock_guard lock(clients_mutex_);
    clients_.erase(server.agent);
  }
  if (!gone.ok()) return std::move(gone).error();
  if (gone->status >= 300) return make_error(Errc::io, message_of(*gone));
  return Ok{};
}

// --- DirectProbe ------------------------------------------------------------------------

rollout::HealthReport DirectProbe::probe(const std::string& service, const json::Value& health) {
  auto address = split_address(service);
  if (!address.ok()) return {false, address.error().to_string()};
  auto timeout = std::chrono::milliseconds(health.value("timeout_ms", std::int64_t{1000}));
  std::string kind = health.value("kind", "http");
  if (kind == "http") {
    auto code =
        net::probe_http(address->first, address->second, health.value("path", "/"), timeout);
    if (!code.ok()) return {false, code.error().to_string()};
    return {*code >= 200 && *code < 300, "HTTP " + std::to_string(*code)};
  }
  if (kind == "tcp") {
    auto open = net::probe_tcp(address->first, address->second, timeout);
    return {open.ok(), open.ok() ? "connected" : open.error().to_string()};
  }
  return {true, "a command check runs on the agent only"};
}

// --- HaproxyTraffic ---------------------------------------------------------------------

HaproxyTraffic::HaproxyTraffic(const Config& config)
    : config_(&config), runtime_(config.traffic_socket) {}

HaproxyTraffic::~HaproxyTraffic() = default;

void HaproxyTraffic::set_policy(const json::Value& policy) {
  std::vector<traffic::RegionFrontend> frontends;
  if (policy.is_object() && policy.contains("regions")) {
    for (const auto& region : policy["regions"]) {
      std::string name = region.value("name", "");
      auto bind = config_->frontends.find(name);
      if (bind == config_->frontends.end()) continue;
      frontends.push_back({name, bind->second, region.value("backend", "")});
    }
  }
  wanted_regions_ = frontends.size();
  wanted_ = frontends.empty() ? std::string()
                              : traffic::managed_config(config_->traffic_socket, frontends);
}

Result<bool> HaproxyTraffic::ensure_running() {
  if (config_->traffic_mode != "managed") return false;
  if (wanted_.empty()) return false;  // no region routed through HAProxy: none to run
  const std::string& text = wanted_;
  if (haproxy_ && haproxy_->running() && text == written_) return false;
  std::string dir = fs::path(config_->traffic_socket).parent_path().string();
  std::string path = dir + "/haproxy.cfg", pid_file = dir + "/haproxy.pid";
  if (!haproxy_) {
    // A controller that crashed left its HAProxy serving: take it over if it runs the
    // configuration we would write, so clients never notice the restart.
    std::ifstream pid_in(pid_file);
    long pid = 0;
    std::ifstream config_in(path, std::ios::binary);
    std::string on_disk((std::istreambuf_iterator<char>(config_in)),
                        std::istreambuf_iterator<char>());
    if (pid_in >> pid) {
      auto adopted = traffic::Haproxy::adopt(pid, path);
      if (adopted && on_disk == text) {
        haproxy_ = std::move(adopted);
        written_ = text;
        log::info("haproxy_adopted", {{"pid", pid}});
        return false;
      }
      adopted.reset();  // a stale one with another configuration: stopped
    }
  }
  if (haproxy_ && !haproxy_->running()) log::warn("haproxy_died", {});
  haproxy_.reset();
  std::error_code ec;
  fs::create_directories(dir, ec);
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) return make_error(Errc::io, path + ": cannot write");
  }
  PW_TRY_ASSIGN(haproxy_, traffic::Haproxy::start(path, config_->traffic_socket));
  written_ = text;
  {
    std::ofstream out(pid_file, std::ios::trunc);
    out << haproxy_->pid() << "\n";
  }
  log::info("haproxy_started", {{"pid", haproxy_->pid()}, {"regions", wanted_regions_}});
  return true;
}

Status HaproxyTraffic::apply(const std::string& backend,
                             const std::vector<rollout::Weight>& weights) {
  std::vector<traffic::Runtime::Target> targets;
  targets.reserve(weights.size());
  for (const auto& w : weights) targets.push_back({w.server, w.address, w.weight});
  return runtime_.ensure_servers(backend, targets);
}

Status HaproxyTraffic::remove(const std::string& backend, const std::vector<std::string>& servers) {
  return runtime_.remove_servers(backend, servers);
}

Result<std::vector<traffic::ServerStat>> HaproxyTraffic::stats(const std::string& backend) {
  return runtime_.stats(backend);
}

}  // namespace pw::controller
