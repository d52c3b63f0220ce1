// The controller's configuration (controller.yaml):
//
//   state_dir: /var/lib/patchwave        # store.db, ca/, tls/, keys/, artifacts/
//   listen: 127.0.0.1:8443
//   name: patchwave-controller           # its TLS name; agents check it
//   manifests:
//     repository: file:///srv/manifests@main
//     root: /etc/patchwave/root.json     # the pinned root of trust
//     sync_interval: 60s
//   audit:
//     anchor: /var/lib/patchwave/audit-anchor   # default <state_dir>/audit-anchor
//     checkpoint_interval: 5m
//   max_request_bytes: 1048576
//   agent_binary: /usr/lib/patchwave/patchwave-agent   # for the local provider
//   agent_url: https://10.0.0.5:8443     # where agents reach the controller, when not at
//                                         # `listen` (NAT, a load balancer); no path
//   servers_dir: /var/lib/patchwave/servers            # local servers (default
//   <state_dir>/servers)
//   traffic:                              # HAProxy: one frontend and backend per region
//     mode: managed                       # managed (the controller runs it) | attach
//     socket: /run/haproxy/admin.sock     # attach: that admin socket; managed: default
//                                         # <state_dir>/haproxy/admin.sock
//     frontends: {bw: 127.0.0.1:18081}    # managed: where each region's clients connect
//   rollout:                              # the engine's limits (see rollout/engine.hpp)
//     provision_timeout: 10m
//     stage_timeout: 10m
//     health_timeout: 5m
//     min_requests: 20                    # fewer on the new servers: inconclusive
//     inconclusive_grace: 2m
//     max_parallel: 4
//   notifications:                        # webhooks (Slack, Teams, Matrix), see notify.hpp
//     webhooks:
//       - url: https://hooks.slack.com/services/T000/B000/XXXX   # a secret: never logged
//         events: [approval.requested, region.rolled_back]       # optional; default all
//     max_attempts: 8                     # then given up, audited as notify.failed
//     timeout: 5s                         # per network step of one attempt
//     ca_file: /etc/ssl/certs/ca-certificates.crt   # for https; this is the default
//   store:                                # where the state lives; default: SQLite
//     backend: sqlite                     # sqlite (embedded) | postgresql
//     path: /var/lib/patchwave/store.db   # sqlite; default <state_dir>/store.db
//     # backend: postgresql
//     # url: postgresql://patchwave@db.internal:5432/patchwave   # no password in it
//     # password_file: /etc/patchwave/store-password   # first line; not readable by others
//     # password_env: PATCHWAVE_STORE_PASSWORD          # or this variable (or ~/.pgpass)
//   Events: approval.requested, approval.rejected, approval.expired, region.succeeded,
//   region.rolled_back, rollout.finished.
//
// Unknown keys are errors naming the key; durations are N s|m|h|d.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "common/errors/result.hpp"
#include "orchestrator/notify/notify.hpp"
#include "orchestrator/store/database.hpp"

namespace pw::controller {

struct Config {
  std::string state_dir;
  std::string listen = "127.0.0.1:8443";
  std::string name = "patchwave-controller";
  std::string repository;
  std::string root;
  std::chrono::seconds sync_interval{60};
  std::string anchor;
  std::chrono::seconds checkpoint_interval{300};
  std::uint64_t max_request_bytes = 1u << 20;
  std::string agent_binary;
  std::string agent_url;  // empty: derived from listen
  std::string servers_dir;
  std::string traffic_mode = "managed";
  std::string traffic_socket;
  std::map<std::string, std::string> frontends;  // region -> ADDRESS:PORT
  std::chrono::seconds provision_timeout{600}, stage_timeout{600}, health_timeout{300},
      inconclusive_grace{120};
  std::uint64_t min_requests = 20;
  int max_parallel = 4;
  notify::Options notifications;  // no webhooks: nothing is sent
  store::Location store;          // after loading: a SQLite path is always set
  // Replicas on one PostgreSQL store (leases.hpp): this one's name in the leases
  // (default HOSTNAME:STATE_DIR) and how long a claim lives without renewal, i.e. how
  // soon another replica takes over a region from one that died (at most lease plus a
  // tick).
  std::string replica_id;
  std::chrono::seconds lease{10};

  Result<std::pair<std::string, std::uint16_t>> listen_endpoint() const;
  // https://HOST:PORT agents reach the controller at: agent_url, or else from listen
  // (0.0.0.0 becomes 127.0.0.1).
  std::string url() const;
};

Result<Config> load_config(const std::string& path);

}  // namespace pw::controller
