// Fresh servers for a region through the provider its fleet policy names: one-time
// enrollment tokens are made for each (bound to its deterministic name), the provider
// starts them, and the store tracks them (provisioned -> enrolled -> decommissioned).
// Every step is an audit event.
#pragma once

#include <optional>
#include <string>

#include "common/json/json.hpp"
#include "orchestrator/ca/ca.hpp"
#include "orchestrator/controller/config.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::controller {

class Servers {
 public:
  Servers(const Config& config, store::Store& store, const ca::ControllerCa& ca)
      : config_(&config), store_(&store), ca_(&ca) {}

  // `policy` is the verified fleet policy (JSON, as sync stored it).
  Result<json::Value> provision(const json::Value& policy, const std::string& region, int count,
                                const std::string& rollout, const std::string& actor);
  Status decommission(const json::Value& policy, const std::string& name, const std::string& actor);
  // A server the provider may have made but the store has no row for (a crash between
  // the two): asked of the provider by name, decommissioned if it is there.
  Status decommission_unrecorded(const json::Value& policy, const std::string& region,
                                 const std::string& name, const std::string& actor);
  Result<json::Value> list(const std::string& region);
  // The address the provider gave `name` (for its certificate), or "".
  std::string address_of(const std::string& name);
  // nullopt: no such server; "": recorded, its provider still making it (provision
  // records the names first).
  std::optional<std::string> recorded_address(const std::string& name);
  // provisioned/enrolled -> enrolled; a decommissioned (or serving) server keeps its state.
  Status mark_enrolled(const std::string& name, const std::string& certificate_sha256);

 private:
  const Config* config_;
  store::Store* store_;
  const ca::ControllerCa* ca_;
};

}  // namespace pw::controller
