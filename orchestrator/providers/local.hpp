// The local provider (the embedded default): a fresh server is a NEW directory
// <base_dir>/<name>/ plus a detached `patchwave-agent run --config <dir>/agent.json`
// process listening on its own loopback address 127.R.S.N:7443 (all of 127.0.0.0/8
// reaches the loopback device on Linux).
//
//   <dir>/server.json      the provider's record: name, region, rollout_id, index, address
//   <dir>/agent.json       the agent's configuration (agents/daemon/config.hpp)
//   <dir>/token            the one-time enrollment token (0600)
//   <dir>/controller-ca.pem, <dir>/root.json   copies of the context's files
//   <dir>/state/           the agent's state (made by the agent: key, certificate, ...)
//   <dir>/agent.log        the agent's stdout and stderr (JSON lines)
//   <dir>/agent.pid        the agent's pid
//
// The agent runs in its own session, double-forked, so it outlives the controller (which
// may be killed -9 and restarted; list() finds the agents again). A pid is trusted only
// while /proc/<pid>/cmdline names patchwave-agent and this directory's agent.json, so a
// recycled pid is never signalled. Fresh means fresh: a decommissioned directory is
// removed completely, and a leftover directory without a live agent is removed and made
// again on provision (new key, new certificate).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/providers/provider.hpp"

namespace pw::providers {

struct LocalOptions {
  std::string base_dir;      // made (0700) when missing
  std::string agent_binary;  // the patchwave-agent executable (its file name must say so)
  // R in 127.R.S.N: 1..254 for every region this provider serves; 0 derives R from the
  // region's name (local_region_number). Two servers never share an address: a server
  // takes the slot of its index, or the next free one when another server holds it.
  int region_number = 0;
  int port = 7443;
  std::chrono::milliseconds stop_grace{10'000};  // decommission: SIGTERM, this, SIGKILL
};

// 1 + FNV-1a-32(region) % 254: stable across runs and machines.
int local_region_number(const std::string& region);

// "127.R.S.N" for server `index` (0-based) of a region: N = 1 + index % 254 (never 0 or
// 255), S = index / 254. invalid_argument for an index above 65023 or R outside 1..254.
Result<std::string> local_address(int region_number, int index);

class LocalProvider final : public Provider {
 public:
  explicit LocalProvider(LocalOptions options);

  // Returns once every agent process runs (exec succeeded); enrollment is not awaited.
  Result<std::vector<Server>> provision(const std::string& region,
                                        const std::vector<ServerRequest>& requests,
                                        const ProvisionContext& context) override;
  // SIGTERM to the (verified) agent, up to stop_grace, SIGKILL, then the directory goes.
  Status decommission(const Server& server) override;
  // The servers of that region (sorted by rollout and index): running when the agent's
  // pid is alive and verified, stopped otherwise.
  Result<std::vector<Server>> list(const std::string& region) override;

  const LocalOptions& options() const { return options_; }

 private:
  // Which server holds each address, by "HOST:PORT": read from base_dir once per
  // provision call (reading every record for every server made provisioning quadratic).
  struct Holder {
    std::string name, region;
  };
  using Holders = std::map<std::string, Holder>;
  Result<Holders> read_holders();
  Result<Server> provision_one(const std::string& region, const ServerRequest& request,
                               const ProvisionContext& context, Holders& holders);
  Result<Server> create(const std::string& name, const std::string& region,
                        const ServerRequest& request, const std::string& address,
                        const ProvisionContext& context);
  static Status check_address_free(const std::string& name, const std::string& listen,
                                   const Holders& holders);

  LocalOptions options_;
  std::mutex mutex_;
};

// Helpers shared with the tests: whether `pid` is a live process whose command line
// names patchwave-agent and `config_path` (a zombie is not alive).
bool local_agent_alive(long pid, const std::string& config_path);

}  // namespace pw::providers
