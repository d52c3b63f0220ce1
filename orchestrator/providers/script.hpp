// The script provider: the operator's executable (Terraform, a cloud CLI, libvirt, ...)
// does the work. It is run as argv (no shell) with PATH=/usr/bin:/bin and nothing else in
// its environment, in its own session and process group, a JSON request on stdin:
//
//   {"action": "provision" | "decommission" | "list", "region": "eu-west",
//    "servers": [{"name": "eu-west-r1-0", "token": "...", "rollout_id": "r1", "index": 0}],
//    "context": {"controller_url", "controller_ca_file", "pinned_root_file",
//                "controller_name"},
//    "params": {...ScriptOptions::params}}
//
// and answers JSON on stdout: {"servers": [{"name", "address", "provider_id", "state"}]}
// ("region" and an object "details" optional), or {} (or nothing) for decommission. Exit
// code 0 means success. On timeout its whole process group gets SIGKILL; whatever it
// leaves in its process group when it exits is killed too (long-lived processes must
// start their own session). stdout is capped at 1 MiB; the last 1 KiB of stderr is quoted
// in errors. Full contract: scripts/providers/README.md.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/providers/provider.hpp"

namespace pw::providers {

struct ScriptOptions {
  std::vector<std::string> command;  // argv; argv[0] relative to working_dir or absolute
  std::chrono::seconds timeout{300};
  std::map<std::string, std::string> params;  // passed through as "params"
  std::string working_dir;                    // empty: the controller's current directory
};

class ScriptProvider final : public Provider {
 public:
  explicit ScriptProvider(ScriptOptions options);

  // The answer must list every requested server (extra entries are ignored), each with a
  // non-empty address; the result follows the order of the requests.
  Result<std::vector<Server>> provision(const std::string& region,
                                        const std::vector<ServerRequest>& requests,
                                        const ProvisionContext& context) override;
  Status decommission(const Server& server) override;
  Result<std::vector<Server>> list(const std::string& region) override;

  // Runs the script once with `request` on stdin and returns its parsed stdout. Errors
  // (each naming the script): not_found / permission (no executable), io (timeout, exit
  // code other than 0, killed by a signal; with the stderr tail), limit (stdout above
  // 1 MiB), parse (stdout is not one JSON value).
  Result<json::Value> call(const json::Value& request);

 private:
  Result<std::vector<Server>> servers_from(const json::Value& answer, const std::string& region);
  std::string label() const;

  ScriptOptions options_;
};

}  // namespace pw::providers
