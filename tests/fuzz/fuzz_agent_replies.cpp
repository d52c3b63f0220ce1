// libFuzzer target for the agents' answers as the controller reads them (an agent runs on
// a server that faces the world, so a compromised one may answer anything): the input is
// the body of an answer with several statuses, read as a staging job, a health report
// and an error. Nothing may crash, throw, leak, hang or read out of bounds.
#include <cstdint>
#include <string_view>

#include "orchestrator/agent_client/replies.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (int status : {200, 404, 409, 500}) {
    auto reply = pw::agent_client::parse_reply(status, bytes, "GET /v1/releases/x");
    if (!reply.ok()) return 0;
    (void)pw::agent_client::message_of(*reply);
    (void)pw::agent_client::job_of(*reply);
    (void)pw::agent_client::health_of(*reply);
    (void)reply->body.dump();  // passed on to operators (GET /v1/servers/{name}/agent)
  }
  return 0;
}
