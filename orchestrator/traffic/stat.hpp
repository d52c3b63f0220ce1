// HAProxy's `show stat` CSV: the rows of servers, with the counters the rollout engine
// needs to shift traffic and judge canaries. Counters are cumulative since HAProxy
// started (or since the server was added), so a step is judged on differences.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::traffic {

struct ServerStat {
  std::string backend, server, status;  // status: UP, DOWN, MAINT, DRAIN, no check...
  std::string address = {};             // addr: 127.0.0.1:8080 or [::1]:8080; "" if absent
  std::uint64_t weight = 0;
  std::uint64_t sessions_total = 0;     // stot
  std::uint64_t responses_2xx = 0;      // hrsp_2xx
  std::uint64_t responses_4xx = 0;      // hrsp_4xx
  std::uint64_t responses_5xx = 0;      // hrsp_5xx
  std::uint64_t connection_errors = 0;  // econ
  std::uint64_t response_errors = 0;    // eresp (HAProxy counts srv_abrt in it too, mostly)
  std::uint64_t client_aborts = 0;      // cli_abrt
  std::uint64_t server_aborts = 0;      // srv_abrt
  // wretr: attempts on this server that failed and were retried (on another server,
  // `option redispatch`): a connection failure, or with `retry-on` an answer such as a
  // 5xx that the client never saw. HAProxy counts such an answer here, not in hrsp_5xx.
  std::uint64_t retries = 0;
  std::uint64_t response_time_ms = 0;  // rtime: average over the last 1024 requests
};

// Every server row of a `show stat` answer, and the names of all backends (rows named
// BACKEND), so that an empty backend can be told from a missing one.
struct StatTable {
  std::vector<ServerStat> servers = {};
  std::set<std::string> backends = {};
};

// Columns are found by the header line ("# pxname,svname,..."), so columns HAProxy adds
// or lacks do not matter; a missing or empty number reads as 0. Errc::parse without a
// header or with a field that is not a number.
Result<StatTable> parse_stat(const std::string& csv);

}  // namespace pw::traffic
