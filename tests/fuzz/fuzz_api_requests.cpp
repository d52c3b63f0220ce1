// libFuzzer target for what operators and agents send the controller's API: the input is
// read as a request body by every parser the handlers use (enroll, servers provision and
// decommission, rollout start/plan, rollout commands, a submitted approval document) and
// as a request target (path and query string). Nothing may crash, throw, leak, hang or
// read out of bounds, and what a parser accepts must keep its rules.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "orchestrator/api/requests.hpp"
#include "orchestrator/approval/approval.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (bool empty_is_object : {false, true}) {
    auto body = pw::api::parse_object(bytes, empty_is_object);
    if (!body.ok()) continue;
    if (!body->is_object()) std::abort();
    (void)pw::api::enroll_request(*body);
    if (auto asked = pw::api::provision_request(*body); asked.ok()) {
      if (asked->count < 1 || asked->count > 100) std::abort();
    }
    (void)pw::api::decommission_request(*body);
    (void)pw::api::rollout_request(*body);
    (void)pw::api::command_region(*body);
  }
  (void)pw::approval::parse_approval(bytes, "approval");
  auto [path, query] = pw::api::split_target(bytes);
  if (path.size() + query.size() > bytes.size()) std::abort();
  for (const char* name : {"region", "rollout", "from"}) (void)pw::api::query_value(query, name);
  if (auto from = pw::api::audit_from(query); from.ok() && *from < 1) std::abort();
  return 0;
}
