// The controller API's requests as data: the JSON bodies and the query strings the
// handlers read, parsed and checked here before any handler acts on them. No I/O, so
// every function is fuzzed as it stands (tests/fuzz/fuzz_api_requests.cpp).
//
// A body that is not a JSON object, or a field of the wrong type, is an error that names
// the field and the rule (Errc::parse for malformed JSON, Errc::invalid_argument for a
// field); unknown fields are ignored; a missing optional field takes its default.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::api {

// The body as a JSON object (the limits of common/json, no floats). `empty_is_object`:
// an empty body reads as {} (the rollout commands, whose fields are all optional).
Result<json::Value> parse_object(std::string_view body, bool empty_is_object = false);

// POST /v1/enroll: {name, token, csr}, all strings.
struct EnrollRequest {
  std::string name, token, csr;
};
Result<EnrollRequest> enroll_request(const json::Value& body);

// POST /v1/servers/provision: {region, count, rollout?}; count an integer 1-100, rollout
// a string ("manual" when absent; the provider checks the server names made from it).
struct ProvisionRequest {
  std::string region;
  int count = 0;  // 1-100
  std::string rollout = "manual";
};
Result<ProvisionRequest> provision_request(const json::Value& body);

// POST /v1/servers/decommission: {name}.
Result<std::string> decommission_request(const json::Value& body);

// POST /v1/rollouts and /v1/rollouts/plan: {app, version, regions?, routine?}. app and
// version are strings ("" when absent: no release has that name), regions an array of
// region names (absent: every region), routine a boolean.
struct RolloutRequest {
  std::string app, version;
  std::vector<std::string> regions;
  bool routine = false;
};
Result<RolloutRequest> rollout_request(const json::Value& body);

// POST /v1/rollouts/{id}/{verb}: {region?}, a string ("" when absent: every region).
Result<std::string> command_region(const json::Value& body);

// "/v1/x?a=1&b=2" -> ("/v1/x", "a=1&b=2").
std::pair<std::string, std::string> split_target(std::string_view target);
// The value of `name` in a query string ("region=bw&rollout=r1"), "" when absent. No
// percent-decoding: values are compared as sent.
std::string query_value(std::string_view query, std::string_view name);
// GET /v1/audit/events?from=N: N >= 1 (1 without `from`).
Result<std::int64_t> audit_from(std::string_view query);

}  // namespace pw::api
