#include "agents/daemon/health.hpp"

#include <chrono>

#include "agents/service/command.hpp"
#include "common/log/log.hpp"
#include "common/net/http.hpp"

namespace pw::agent {

json::Value HealthResult::to_json() const {
  return {{"healthy", healthy},
          {"kind", kind},
          {"detail", detail},
          {"elapsed_ms", elapsed_ms},
          {"checked_at", checked_at}};
}

HealthResult run_health_check(const release::HealthCheck& check, const std::string& host,
                              std::uint16_t port, const std::string& release_dir,
                              const std::map<std::string, std::string>& env) {
  HealthResult result;
  result.kind = release::health_kind_name(check.kind);
  result.checked_at = log::now_rfc3339();
  auto timeout = std::chrono::milliseconds(check.timeout_ms);
  auto start = std::chrono::steady_clock::now();
  switch (check.kind) {
    case release::HealthCheck::Kind::http: {
      auto status = net::probe_http(host, port, check.path, timeout);
      if (status.ok()) {
        result.healthy = *status >= 200 && *status < 300;
        result.detail = "HTTP " + std::to_string(*status);
      } else {
        result.detail = status.error().to_string();
      }
      break;
    }
    case release::HealthCheck::Kind::tcp: {
      auto connected = net::probe_tcp(host, port, timeout);
      result.healthy = connected.ok();
      result.detail = connected.ok() ? "connected" : connected.error().to_string();
      break;
    }
    case release::HealthCheck::Kind::command: {
      auto ran = run_command(check.argv, release_dir, env, timeout);
      if (!ran.ok()) {
        result.detail = ran.error().to_string();
      } else if (ran->timed_out) {
        result.detail = "timed out after " + std::to_string(check.timeout_ms) + " ms";
      } else {
        result.healthy = ran->exit_code == 0 && !ran->signal;
        result.detail = ran->signal ? "killed by signal " + std::to_string(*ran->signal)
                                    : "exit " + std::to_string(ran->exit_code);
        if (!ran->output.empty()) result.detail += ": " + ran->output.substr(0, 512);
      }
      break;
    }
  }
  result.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  return result;
}

}  // namespace pw::agent
