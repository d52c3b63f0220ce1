#include "agents/daemon/daemon.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "agents/daemon/agent.hpp"
#include "common/log/log.hpp"

namespace pw::agent {
namespace {

std::atomic<int> g_signal{0};

void on_signal(int signal) { g_signal.store(signal); }

// Handlers, not a blocked mask: a blocked mask would be inherited by the service.
void install_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
}

}  // namespace

int run_daemon(const AgentConfig& config) {
  log::set_program("patchwave-agent");
  log::set_format(config.log_format == "json" ? log::Format::json : log::Format::text);
  install_handlers();
  if (auto valid = validate(config); !valid.ok()) {
    log::error("bad_configuration", {{"error", valid.error().to_string()}});
    return 1;
  }
  // A controller that cannot be reached (restarting, say) is waited for, with backoff;
  // a refusal or a bad identity ends the agent.
  auto agent = Agent::create(config);
  for (auto wait = std::chrono::milliseconds(250);
       !agent.ok() && agent.error().code == Errc::io && g_signal.load() == 0;
       wait = std::min(wait * 2, std::chrono::milliseconds(5000))) {
    log::warn("controller_unreachable",
              {{"error", agent.error().to_string()}, {"retry_in_ms", wait.count()}});
    for (auto slept = std::chrono::milliseconds(0); slept < wait && g_signal.load() == 0;
         slept += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    agent = Agent::create(config);
  }
  if (!agent.ok()) {
    log::error("start_failed", {{"error", agent.error().to_string()}});
    return 1;
  }
  const Identity& identity = (*agent)->identity();
  log::info(identity.enrolled_now ? "enrolled" : "identity_loaded",
            {{"name", identity.common_name}, {"certificate_sha256", identity.fingerprint}});

  auto endpoint = config.listen_endpoint();
  net::ServerOptions options;
  options.address = endpoint->first;
  options.port = endpoint->second;
  options.tls = {config.controller_ca, identity.certificate_file, identity.key_file};
  options.allowed_client_names = {config.controller_name};
  options.max_body_bytes = config.max_request_bytes;
  Agent* raw = agent->get();
  auto server = net::Server::start(
      options, [raw](const net::Request& request) { return raw->handle(request); });
  if (!server.ok()) {
    log::error("start_failed", {{"error", server.error().to_string()}});
    return 1;
  }
  log::info("listening", {{"address", options.address}, {"port", (*server)->port()}});

  while (g_signal.load() == 0 && !raw->decommissioned()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (raw->decommissioned()) {
    // Let the answer go out (up to 200 ms); a signal means the caller has it already
    // (the controller's provider stops the agent after the answer came).
    for (int i = 0; i < 20 && g_signal.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    (*server)->stop();
    log::info("exiting", {{"reason", "decommissioned"}});
    return 0;
  }
  log::info("stopping", {{"signal", g_signal.load()}});
  (*server)->stop();
  raw->shutdown();
  return 0;
}

}  // namespace pw::agent
