// The controller's side of the dashboard (dashboard.hpp): the session signing key, the
// operator API that the dashboard reads through (GETs only, answered as for the
// operator looking), and the audit log it writes to.
#include "common/log/log.hpp"
#include "orchestrator/controller/controller.hpp"

namespace pw::controller {

Status Controller::open_dashboard() {
  PW_TRY_ASSIGN(auto keys, dashboard::SessionKeys::open(config_.state_dir + "/keys/ui-session"));
  auto audit = [this](const std::string& actor, const std::string& action,
                      const json::Value& inputs, const std::string& outcome) {
    std::lock_guard lock(mutex_);
    auto appended = store_->audit().append({actor, action, inputs, outcome});
    if (!appended.ok()) log::warn("audit_failed", {{"error", appended.error().to_string()}});
  };
  dashboard_ = std::make_unique<Dashboard>(
      config_.name, std::move(keys),
      [this](const std::string& target, const Operator& who) { return api_get(target, who); },
      std::move(audit));
  return Ok{};
}

net::Response Controller::api_get(const std::string& target, const Operator& who) {
  net::Request request;
  request.method = "GET";
  request.target = target;
  request.peer_common_name = who.name;
  std::string path = target.substr(0, target.find('?'));
  if (path == "/v1/servers") return servers_api(request, path, who.role, who.name);
  if (path == "/v1/rollouts" || path.rfind("/v1/rollouts/", 0) == 0) {
    return rollouts_->handle(request, path, who.role, who.name);
  }
  if (path == "/v1/approvals") return rollouts_->approvals_api(request, who.name);
  return operator_api(request, who.role);
}

}  // namespace pw::controller
