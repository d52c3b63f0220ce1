// The controller's side of the agent API (agents/daemon/agent.hpp): each call goes over
// mutual TLS with the controller's own certificate, and the agent is verified against
// the controller's CA and the address it is reached at (its certificate carries the
// address the provider gave it). The rollout engine drives servers through
// this; operators reach it through `patchwave servers status`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/json/json.hpp"
#include "common/net/http.hpp"
#include "orchestrator/agent_client/replies.hpp"

namespace pw::agent_client {

class AgentClient {
 public:
  // `address` is HOST:PORT as the provider reported it.
  AgentClient(const net::TlsFiles& controller_tls, std::string address,
              std::chrono::milliseconds timeout = std::chrono::seconds(30));
  AgentClient(std::shared_ptr<net::ClientTls> controller_tls, std::string address,
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

  Result<AgentReply> status();
  // PUT /v1/releases/{sha256}: the metadata bundle and where to download the artifact.
  Result<AgentReply> stage(const std::string& sha256, const json::Value& metadata,
                           const std::string& artifact_url);
  Result<AgentReply> release(const std::string& sha256);
  Result<AgentReply> start(const std::string& sha256, std::uint16_t port);
  Result<AgentReply> stop();
  Result<AgentReply> health();
  Result<AgentReply> decommission();

 private:
  Result<AgentReply> call(const std::string& method, const std::string& path,
                          const std::string& body = "");
  net::Client client_;
  std::string base_;
};

}  // namespace pw::agent_client
