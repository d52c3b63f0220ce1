#include "orchestrator/agent_client/agent_client.hpp"

namespace pw::agent_client {

AgentClient::AgentClient(const net::TlsFiles& controller_tls, std::string address,
                         std::chrono::milliseconds timeout)
    : client_(controller_tls, timeout), base_("https://" + std::move(address)) {}
AgentClient::AgentClient(std::shared_ptr<net::ClientTls> controller_tls, std::string address,
                         std::chrono::milliseconds timeout)
    : client_(std::move(controller_tls), timeout), base_("https://" + std::move(address)) {}

Result<AgentReply> AgentClient::call(const std::string& method, const std::string& path,
                                     const std::string& body) {
  PW_TRY_ASSIGN(auto response, client_.request(method, base_ + path, body, "application/json"));
  return parse_reply(response.status, response.body, method + " " + base_ + path);
}

Result<AgentReply> AgentClient::status() { return call("GET", "/v1/status"); }

Result<AgentReply> AgentClient::stage(const std::string& sha256, const json::Value& metadata,
                                      const std::string& artifact_url) {
  json::Value body = {{"metadata", metadata}, {"artifact_url", artifact_url}};
  return call("PUT", "/v1/releases/" + sha256, body.dump());
}

Result<AgentReply> AgentClient::release(const std::string& sha256) {
  return call("GET", "/v1/releases/" + sha256);
}

Result<AgentReply> AgentClient::start(const std::string& sha256, std::uint16_t port) {
  json::Value body = {{"release", sha256}, {"port", port}};
  return call("POST", "/v1/service/start", body.dump());
}

Result<AgentReply> AgentClient::stop() { return call("POST", "/v1/service/stop"); }
Result<AgentReply> AgentClient::health() { return call("GET", "/v1/health"); }
Result<AgentReply> AgentClient::decommission() { return call("POST", "/v1/decommission"); }

}  // namespace pw::agent_client
