// Providers: how the controller gets fresh servers. A server is a new machine (or, for the
// local provider, a new directory and process) running `patchwave-agent` with a one-time
// enrollment token; it is never reused once decommissioned. Two implementations:
//  - local.hpp: a directory plus an agent process on its own loopback address 127.R.S.N;
//  - script.hpp: the operator's executable (Terraform, a cloud CLI, libvirt), JSON on
//    stdin, JSON on stdout (contract: scripts/providers/README.md).
#pragma once

#include <string>
#include <vector>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::providers {

struct ServerRequest {
  std::string rollout_id;
  std::string region;
  int index = 0;
  std::string name;  // deterministic: server_name(region, rollout_id, index); empty: computed
  std::string enrollment_token;  // one-time; written to a 0600 file, never to argv or logs
};

struct Server {
  std::string name;
  std::string region;
  std::string address;      // host:port of its agent API
  std::string provider_id;  // the provider's own id (instance id; local: "local:<name>:<pid>")
  std::string state;        // running | stopped | unknown
  json::Value details = json::Value::object();
};

struct ProvisionContext {
  std::string controller_url;      // https://host:port the agent enrolls with
  std::string controller_ca_file;  // PEM of the controller's CA
  std::string pinned_root_file;    // root.json the agent trusts first
  std::string controller_name = "patchwave-controller";
};

class Provider {
 public:
  virtual ~Provider() = default;
  // Idempotent: a server that already exists under that name is returned, not made again.
  // Returns the servers in the order of the requests.
  virtual Result<std::vector<Server>> provision(const std::string& region,
                                                const std::vector<ServerRequest>& requests,
                                                const ProvisionContext& context) = 0;
  // Idempotent: a server that is gone already is Ok.
  virtual Status decommission(const Server& server) = 0;
  virtual Result<std::vector<Server>> list(const std::string& region) = 0;
};

// "<region>-<rollout_id>-<index>"
std::string server_name(const std::string& region, const std::string& rollout_id, int index);

// A name an agent accepts (its certificate's common name) and that is safe as one path
// component: 1-64 of [a-z0-9-.], not starting with '.' or '-'.
Status check_server_name(const std::string& name);

// The request's name (computed when empty) after checking that it is usable and that the
// request belongs to `region`.
Result<std::string> request_name(const std::string& region, const ServerRequest& request);

// "running", "stopped" or "unknown".
bool valid_state(const std::string& state);

// {"name","region","address","provider_id","state","details"}
json::Value to_json(const Server& server);

}  // namespace pw::providers
