// What agents answer, read by the controller (no I/O: fuzzed as it stands by
// tests/fuzz/fuzz_agent_replies.cpp). An agent is authenticated, but it runs on a server
// that faces the world: its answers are outside input. A body that is not JSON is an
// error; a field that is missing or of the wrong type reads as absent, never throws.
#pragma once

#include <string>
#include <string_view>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::agent_client {

struct AgentReply {
  int status = 0;
  json::Value body;
};

// An HTTP answer's body as JSON (any JSON value); Errc::parse naming `what` otherwise.
Result<AgentReply> parse_reply(int status, std::string_view body, const std::string& what);

// {"error": {"message": M}} -> M; otherwise "HTTP <status>".
std::string message_of(const AgentReply& reply);

// GET /v1/releases/{sha256}: a staging job. state: "downloading", "staged", "failed"...
// ("" when absent); error: the job's error message when it failed ("failed" if none).
struct JobView {
  std::string state;
  std::string error;
};
JobView job_of(const AgentReply& reply);

// GET /v1/health: {"healthy": bool, "detail": text}; healthy only if it says true.
struct HealthView {
  bool healthy = false;
  std::string detail;
};
HealthView health_of(const AgentReply& reply);

}  // namespace pw::agent_client
