#include "orchestrator/agent_client/replies.hpp"

namespace pw::agent_client {
namespace {

// The string at body[key] of an object, or "" (absent, not an object, not a string).
std::string text_at(const json::Value& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The message of {"error": {"message": M}}, or "" without one.
std::string error_message(const json::Value& body) {
  if (!body.is_object()) return {};
  auto it = body.find("error");
  return it != body.end() ? text_at(*it, "message") : std::string();
}

}  // namespace

Result<AgentReply> parse_reply(int status, std::string_view body, const std::string& what) {
  auto parsed = json::parse(body);
  if (!parsed.ok()) {
    return make_error(Errc::parse, what + ": the agent answered HTTP " + std::to_string(status) +
                                       " with no JSON");
  }
  return AgentReply{status, std::move(*parsed)};
}

std::string message_of(const AgentReply& reply) {
  std::string message = error_message(reply.body);
  return message.empty() ? "HTTP " + std::to_string(reply.status) : message;
}

JobView job_of(const AgentReply& reply) {
  std::string error = error_message(reply.body);
  return JobView{text_at(reply.body, "state"), error.empty() ? "failed" : error};
}

HealthView health_of(const AgentReply& reply) {
  HealthView health;
  if (!reply.body.is_object()) return health;
  auto healthy = reply.body.find("healthy");
  health.healthy = healthy != reply.body.end() && healthy->is_boolean() && healthy->get<bool>();
  health.detail = text_at(reply.body, "detail");
  return health;
}

}  // namespace pw::agent_client
