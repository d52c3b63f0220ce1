#include "orchestrator/controller/controller.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/crypto/secret_file.hpp"
#include "common/crypto/x509.hpp"
#include "common/log/log.hpp"
#include "orchestrator/agent_client/agent_client.hpp"
#include "orchestrator/api/requests.hpp"
#include "orchestrator/audit/checkpoint.hpp"
#include "orchestrator/controller/replies.hpp"
#include "orchestrator/controller/servers.hpp"

namespace pw::controller {
namespace fs = std::filesystem;
namespace x509 = crypto::x509;

namespace {

bool is_sha256(const std::string& text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return make_error(Errc::io, path + ": cannot write");
  return Ok{};
}

}  // namespace

Result<std::unique_ptr<Controller>> Controller::open(const Config& config) {
  std::unique_ptr<Controller> controller(new Controller(config));
  std::error_code ec;
  for (const char* sub : {"", "/tls", "/keys", "/artifacts"}) {
    fs::create_directories(config.state_dir + sub, ec);
    if (ec) return make_error(Errc::io, "cannot create " + config.state_dir + sub);
  }
  fs::permissions(config.state_dir, fs::perms::owner_all, ec);
  PW_TRY_ASSIGN(controller->store_, store::Store::open(config.store));
  std::string ca_dir = config.state_dir + "/ca";
  auto loaded = ca::ControllerCa::load(ca_dir);
  if (!loaded.ok() && loaded.error().code == Errc::not_found) {
    loaded = ca::ControllerCa::init(ca_dir, "Patchwave controller CA (" + config.name + ")");
    if (loaded.ok()) log::info("ca_created", {{"path", ca_dir}});
  }
  if (!loaded.ok()) return std::move(loaded).error();
  controller->ca_ = std::make_unique<ca::ControllerCa>(std::move(*loaded));

  if (!fs::exists(controller->tls_certificate())) {
    auto endpoint = config.listen_endpoint();
    std::vector<std::string> ips;
    if (endpoint->first != "0.0.0.0" && endpoint->first != "::") ips.push_back(endpoint->first);
    PW_TRY_ASSIGN(auto credential, controller->ca_->issue_controller(config.name, {}, ips));
    PW_TRY(crypto::write_secret_file(controller->tls_key(), credential.private_key_pem));
    PW_TRY(write_text(controller->tls_certificate(), credential.certificate_pem));
  }
  std::string key_path = config.state_dir + "/keys/checkpoint";
  if (!fs::exists(key_path)) {
    PW_TRY_ASSIGN(auto key, crypto::PrivateKey::generate(crypto::KeyType::ed25519));
    PW_TRY(key.save(key_path));
    PW_TRY(write_text(key_path + ".pub.json", key.public_json().dump(2) + "\n"));
  }
  PW_TRY_ASSIGN(auto key, crypto::PrivateKey::load(key_path));
  controller->signing_key_ = std::make_unique<crypto::PrivateKey>(std::move(key));
  controller->rollouts_ = std::make_unique<Rollouts>(
      controller->config_, *controller->store_, controller->mutex_, *controller->ca_,
      net::TlsFiles{controller->ca_certificate(), controller->tls_certificate(),
                    controller->tls_key()},
      controller->config_.url());
  controller->notifier_ = std::make_unique<notify::Dispatcher>(
      *controller->store_, controller->mutex_, controller->config_.notifications);
  controller->rollouts_->set_dispatcher(controller->notifier_.get());
  PW_TRY(controller->open_dashboard());
  PW_TRY(controller->store_->audit().append(
      {"controller", "start", {{"name", config.name}, {"listen", config.listen}}, "ok"}));
  return controller;
}

Status Controller::start_notifications() { return notifier_->start(); }

void Controller::stop_notifications() {
  rollouts_->set_dispatcher(nullptr);
  notifier_->stop();
}

Result<SyncResult> Controller::sync_now(const std::string& actor) {
  auto synced = [&] {
    std::lock_guard lock(mutex_);
    return sync(*store_, config_.repository, config_.root, config_.state_dir + "/artifacts", actor);
  }();
  rollouts_->policy_synced();  // takes no lock: the loop may hold its own and want mutex_
  return synced;
}

Status Controller::checkpoint_now() {
  std::lock_guard lock(mutex_);
  auto made = audit::checkpoint(*store_, *signing_key_, config_.anchor);
  if (!made.ok() && made.error().code != Errc::not_found) return std::move(made).error();
  return Ok{};
}

net::Response Controller::enroll(const net::Request& request) {
  auto body = api::parse_object(request.body);
  auto asked = body.ok() ? api::enroll_request(*body) : std::move(body).error();
  if (!asked.ok()) return error_reply(400, "parse", "expected {\"name\", \"token\", \"csr\"}");
  const std::string& name = asked->name;
  // A server whose provider is still making it (recorded, no address yet: another
  // replica is provisioning it) waits for its address, which goes into its certificate
  // and marks it enrolled. Alone on the store, provisioning holds mutex_ and this never
  // waits.
  for (int waited = 0; waited < 300; ++waited) {
    {
      std::lock_guard lock(mutex_);
      auto recorded = Servers(config_, *store_, *ca_).recorded_address(name);
      if (!recorded || !recorded->empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::lock_guard lock(mutex_);
  Servers servers(config_, *store_, *ca_);
  // The address the provider gave the server goes into its certificate; a server the
  // controller did not provision gets the address it connected from.
  std::string address = servers.address_of(name);
  std::vector<std::string> ips;
  if (!address.empty()) {
    ips.push_back(address.substr(0, address.rfind(':')));
  } else if (!request.peer_address.empty()) {
    ips.push_back(request.peer_address);
  }
  ca::Enrollment enrollment(*store_, *ca_);
  // Enrolled, and recorded so (a server the provider made), in one commit.
  ca::Enrollment::Also record;
  if (!address.empty()) {
    record = [&](const std::string& fingerprint) {
      return servers.mark_enrolled(name, fingerprint);
    };
  }
  auto certificate = enrollment.enroll(name, asked->token, asked->csr, ips, record);
  if (!certificate.ok()) {
    int status = certificate.error().code == Errc::permission ? 403 : 400;
    return error_reply(status, errc_name(certificate.error().code), certificate.error().message);
  }
  return reply(200, {{"certificate", *certificate}, {"ca", ca_->certificate_pem()}});
}

net::Response Controller::operator_api(const net::Request& request, const std::string& role) {
  auto [path, query] = api::split_target(request.target);
  std::lock_guard lock(mutex_);
  if (path == "/v1/status" && request.method == "GET") {
    auto head = store_->audit().head();
    auto last = last_sync(*store_);
    json::Value status = {{"name", config_.name}, {"role", role}};
    if (head.ok() && *head) status["audit_head"] = {{"seq", (*head)->seq}, {"hash", (*head)->hash}};
    if (last.ok() && !last->is_null()) {
      status["sync"] = {{"revision", (*last)["revision"]}, {"synced_at", (*last)["synced_at"]}};
    }
    return reply(200, status);
  }
  if (path == "/v1/releases" && request.method == "GET") {
    auto last = last_sync(*store_);
    if (!last.ok()) return error_reply(500, "io", last.error().to_string());
    json::Value releases = json::Value::array();
    if (!last->is_null()) {
      for (auto it = (*last)["targets"].begin(); it != (*last)["targets"].end(); ++it) {
        if (!it.value().contains("release")) continue;
        json::Value entry = it.value();
        entry["target"] = it.key();
        releases.push_back(entry);
      }
    }
    return reply(200, {{"releases", releases}});
  }
  if (path == "/v1/fleet" && request.method == "GET") {
    auto last = last_sync(*store_);
    if (!last.ok()) return error_reply(500, "io", last.error().to_string());
    if (last->is_null() || (*last)["fleet"].is_null()) {
      return error_reply(404, "not_found", "the manifests hold no fleet policy yet");
    }
    return reply(200, {{"revision", (*last)["revision"]}, {"policy", (*last)["fleet"]}});
  }
  if (path == "/v1/audit/verify" && request.method == "GET") {
    auto chain = store_->audit().verify();
    if (!chain.ok()) return error_reply(500, "io", chain.error().to_string());
    json::Value out = {
        {"events", chain->events}, {"head", chain->head_hash}, {"intact", chain->intact}};
    if (!chain->intact) {
      out["first_broken_event"] = *chain->first_broken;
      out["reason"] = chain->reason;
      // What `patchwave audit verify` prints, as for a local store.
      out["error"] = {{"code", "conflict"},
                      {"message", "BROKEN at event " + std::to_string(*chain->first_broken) + ": " +
                                      chain->reason}};
    }
    return reply(chain->intact ? 200 : 409, out);
  }
  if (path == "/v1/audit/events" && request.method == "GET") {
    auto from = api::audit_from(query);
    if (!from.ok()) return error_reply(400, "invalid_argument", from.error().message);
    auto events = store_->audit().read(*from, 1000);
    if (!events.ok()) return error_reply(500, "io", events.error().to_string());
    json::Value out = json::Value::array();
    for (const auto& event : *events) out.push_back(event.to_json());
    return reply(200, {{"events", out}});
  }
  return error_reply(404, "not_found", "no such endpoint: " + request.method + " " + path);
}

net::Response Controller::handle(const net::Request& request) {
  // The dashboard and /metrics answer and audit for themselves (dashboard.hpp).
  if (Dashboard::owns(api::split_target(request.target).first)) return dashboard_->handle(request);
  net::Response response = route(request);
  if (response.status == 401 || response.status == 403) audit_refusal(request, response);
  return response;
}

void Controller::audit_refusal(const net::Request& request, const net::Response& response) {
  std::string path = api::split_target(request.target).first;
  // Enrollment and approvals audit their own refusals, with the reason.
  if (path == "/v1/enroll" || path == "/v1/approvals") return;
  std::string actor = "anonymous";
  json::Value inputs = {{"method", request.method}, {"path", path}, {"peer", request.peer_address}};
  if (!request.peer_certificate.empty()) {
    auto info = x509::read_certificate(request.peer_certificate);
    actor = info.ok() ? info->names.common_name : "unreadable certificate";
    auto role = info.ok() ? ca::role_of(*info) : Result<std::string>(info.error());
    inputs["role"] = role.ok() ? *role : "none";
  }
  auto body = json::parse(response.body);
  std::string reason = body.ok() && body->is_object() && (*body)["error"].is_object() &&
                               (*body)["error"]["message"].is_string()
                           ? (*body)["error"]["message"].get<std::string>()
                           : "HTTP " + std::to_string(response.status);
  std::lock_guard lock(mutex_);
  if (request.peer_certificate.empty()) {
    // Anyone who can connect can be refused as fast as it connects: one event per
    // address and minute, counting the refusals in between.
    auto now = std::chrono::steady_clock::now();
    if (anonymous_refusals_.size() > 10'000) anonymous_refusals_.clear();
    auto& seen = anonymous_refusals_[request.peer_address];
    if (seen.count > 0 && now - seen.last < std::chrono::minutes(1)) {
      ++seen.count;
      return;
    }
    if (seen.count > 1) inputs["refused_since_last_event"] = seen.count - 1;
    seen = {now, 1};
  }
  auto appended = store_->audit().append({actor, "api.refused", inputs, "refused: " + reason});
  if (!appended.ok()) log::warn("audit_failed", {{"error", appended.error().to_string()}});
}

net::Response Controller::route(const net::Request& request) {
  std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/v1/enroll") {
    if (request.method != "POST") return error_reply(405, "method", "use POST");
    return enroll(request);
  }
  if (request.peer_certificate.empty()) {
    return error_reply(401, "permission", "a client certificate is required");
  }
  auto info = x509::read_certificate(request.peer_certificate);
  if (!info.ok()) return error_reply(401, "permission", "unreadable client certificate");
  auto role = ca::role_of(*info);
  const std::string artifacts = "/v1/artifacts/";
  if (path.rfind(artifacts, 0) == 0) {
    if (role.ok()) return error_reply(403, "permission", "artifacts are for agents");
    std::string sha = path.substr(artifacts.size());
    if (!is_sha256(sha)) {
      return error_reply(400, "invalid_argument", "an artifact is named by its sha256");
    }
    net::Response file;
    file.content_type = "application/octet-stream";
    file.file = config_.state_dir + "/artifacts/" + sha;
    return file;
  }
  if (path == "/v1/bundle" && request.method == "GET") {
    std::lock_guard lock(mutex_);
    auto last = last_sync(*store_);
    if (!last.ok()) return error_reply(500, "io", last.error().to_string());
    if (last->is_null()) return error_reply(404, "not_found", "no successful sync yet");
    return reply(200, {{"revision", (*last)["revision"]}, {"metadata", (*last)["metadata"]}});
  }
  if (!role.ok()) return error_reply(403, "permission", role.error().message);
  if (path == "/v1/sync") {
    if (request.method != "POST") return error_reply(405, "method", "use POST");
    if (*role != "release-engineer") {
      return error_reply(403, "permission", "syncing needs the release-engineer role");
    }
    auto synced = sync_now("operator:" + info->names.common_name);
    if (!synced.ok())
      return error_reply(422, errc_name(synced.error().code), synced.error().to_string());
    return reply(200, {{"revision", synced->revision},
                       {"targets", synced->targets},
                       {"releases", synced->releases}});
  }
  if (path.rfind("/v1/servers", 0) == 0)
    return servers_api(request, path, *role, info->names.common_name);
  if (path == "/v1/rollouts" || path.rfind("/v1/rollouts/", 0) == 0) {
    return rollouts_->handle(request, path, *role, info->names.common_name);
  }
  if (path == "/v1/approvals") {
    return rollouts_->approvals_api(request, info->names.common_name);
  }
  if (path == "/v1/replicas" && request.method == "GET") return rollouts_->replicas_api();
  return operator_api(request, *role);
}

net::Response Controller::servers_api(const net::Request& request, const std::string& path,
                                      const std::string& role, const std::string& who) {
  std::lock_guard lock(mutex_);
  Servers servers(config_, *store_, *ca_);
  if (path == "/v1/servers" && request.method == "GET") {
    auto list = servers.list(api::query_value(api::split_target(request.target).second, "region"));
    if (!list.ok()) return error_reply(500, "io", list.error().to_string());
    return reply(200, {{"servers", *list}});
  }
  const std::string agent_suffix = "/agent";
  if (request.method == "GET" && path.size() > 12 + agent_suffix.size() &&
      path.compare(path.size() - agent_suffix.size(), agent_suffix.size(), agent_suffix) == 0) {
    // GET /v1/servers/{name}/agent: the agent's own status, asked over mutual TLS.
    std::string name = path.substr(12, path.size() - 12 - agent_suffix.size());
    std::string address = servers.address_of(name);
    if (address.empty()) return error_reply(404, "not_found", "no server " + name);
    agent_client::AgentClient agent({ca_certificate(), tls_certificate(), tls_key()}, address,
                                    std::chrono::seconds(10));
    auto answer = agent.status();
    if (!answer.ok()) return error_reply(502, "io", answer.error().to_string());
    return reply(200, {{"server", name}, {"address", address}, {"agent", answer->body}});
  }
  if (request.method != "POST" ||
      (path != "/v1/servers/provision" && path != "/v1/servers/decommission")) {
    return error_reply(404, "not_found", "no such endpoint: " + request.method + " " + path);
  }
  if (role != "release-engineer") {
    return error_reply(403, "permission", "changing servers needs the release-engineer role");
  }
  auto body = api::parse_object(request.body);
  if (!body.ok()) return error_reply(400, "parse", "expected a JSON object");
  auto last = last_sync(*store_);
  if (!last.ok() || last->is_null() || (*last)["fleet"].is_null()) {
    return error_reply(409, "conflict", "no verified fleet policy yet");
  }
  const json::Value& policy = (*last)["fleet"];
  std::string actor = "operator:" + who;
  if (path == "/v1/servers/provision") {
    auto asked = api::provision_request(*body);
    if (!asked.ok()) return error_reply(400, "invalid_argument", asked.error().message);
    auto made = servers.provision(policy, asked->region, asked->count, asked->rollout, actor);
    if (!made.ok()) return error_reply(422, errc_name(made.error().code), made.error().to_string());
    return reply(200, {{"servers", *made}});
  }
  auto name = api::decommission_request(*body);
  if (!name.ok()) return error_reply(400, "invalid_argument", name.error().message);
  auto gone = servers.decommission(policy, *name, actor);
  if (!gone.ok()) {
    int status = gone.error().code == Errc::not_found ? 404 : 422;
    return error_reply(status, errc_name(gone.error().code), gone.error().to_string());
  }
  return reply(200, {{"decommissioned", *name}});
}

namespace {
std::atomic<int> g_signal{0};
void on_signal(int signal) { g_signal.store(signal); }
}  // namespace

int run_serve(const Config& config, const std::string& log_format) {
  log::set_program("patchwave");
  log::set_format(log_format == "json" ? log::Format::json : log::Format::text);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // One serving controller per state directory: the replica's name in the leases
  // (replica.id defaults to HOSTNAME:STATE_DIR) is then its own, and a restart can take
  // its previous life's claims over at once. Released by the kernel however we exit.
  std::error_code made_ec;
  fs::create_directories(config.state_dir, made_ec);
  std::string lock_path = config.state_dir + "/controller.lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    log::error("start_failed",
               {{"error", lock_path + ": another patchwave serve runs with this state_dir (" +
                              std::string(std::strerror(errno)) + ")"}});
    return 1;
  }
  auto controller = Controller::open(config);
  if (!controller.ok()) {
    log::error("start_failed", {{"error", controller.error().to_string()}});
    return 1;
  }
  Controller& c = **controller;
  auto endpoint = config.listen_endpoint();
  net::ServerOptions options;
  options.address = endpoint->first;
  options.port = endpoint->second;
  options.tls = {c.ca_certificate(), c.tls_certificate(), c.tls_key()};
  options.require_client_certificate = false;  // enrollment; every other route checks
  options.max_body_bytes = config.max_request_bytes;
  options.handler_threads = 4;
  auto server = net::Server::start(options, [&c](const net::Request& r) { return c.handle(r); });
  if (!server.ok()) {
    log::error("start_failed", {{"error", server.error().to_string()}});
    return 1;
  }
  log::info(
      "listening",
      {{"address", options.address}, {"port", (*server)->port()}, {"replica", config.replica_id}});
  if (auto started = c.start_notifications(); !started.ok()) {
    log::error("start_failed", {{"error", started.error().to_string()}});
    return 1;
  }

  // The rollout engine's loop: ticks often, so that a decision to roll back reaches
  // HAProxy within a fraction of a health interval.
  std::thread engine([&c] {
    while (g_signal.load() == 0) {
      c.tick_rollouts();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto next_sync = std::chrono::steady_clock::now();
  auto next_checkpoint = std::chrono::steady_clock::now() + config.checkpoint_interval;
  while (g_signal.load() == 0) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_sync) {
      auto synced = c.sync_now("controller");
      if (synced.ok()) {
        log::info("synced", {{"revision", synced->revision}, {"releases", synced->releases}});
      } else {
        log::warn("sync_refused", {{"error", synced.error().to_string()}});
      }
      next_sync = now + config.sync_interval;
    }
    if (now >= next_checkpoint) {
      if (auto made = c.checkpoint_now(); !made.ok()) {
        log::warn("checkpoint_failed", {{"error", made.error().to_string()}});
      }
      next_checkpoint = now + config.checkpoint_interval;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log::info("stopping", {{"signal", g_signal.load()}});
  engine.join();
  (*server)->stop();
  c.stop_notifications();
  if (auto made = c.checkpoint_now(); !made.ok()) {
    log::warn("checkpoint_failed", {{"error", made.error().to_string()}});
  }
  return 0;
}

}  // namespace pw::controller
