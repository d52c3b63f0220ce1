#include "orchestrator/providers/provider.hpp"

namespace pw::providers {

std::string server_name(const std::string& region, const std::string& rollout_id, int index) {
  return region + "-" + rollout_id + "-" + std::to_string(index);
}

Status check_server_name(const std::string& name) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") != std::string::npos ||
      name.front() == '.' || name.front() == '-') {
    return make_error(Errc::invalid_argument,
                      "server name '" + name +
                          "' must be 1-64 characters of lowercase letters, digits, '-' and '.', "
                          "starting with a letter or digit");
  }
  return Ok{};
}

Result<std::string> request_name(const std::string& region, const ServerRequest& request) {
  if (!request.region.empty() && request.region != region) {
    return make_error(Errc::invalid_argument, "server request for region '" + request.region +
                                                  "' in a provision for region '" + region + "'");
  }
  if (request.index < 0) {
    return make_error(Errc::invalid_argument,
                      "server index " + std::to_string(request.index) + " is negative");
  }
  std::string name =
      request.name.empty() ? server_name(region, request.rollout_id, request.index) : request.name;
  PW_TRY(check_server_name(name));
  return name;
}

bool valid_state(const std::string& state) {
  return state == "running" || state == "stopped" || state == "unknown";
}

json::Value to_json(const Server& server) {
  return json::Value{{"name", server.name},       {"region", server.region},
                     {"address", server.address}, {"provider_id", server.provider_id},
                     {"state", server.state},     {"details", server.details}};
}

}  // namespace pw::providers
