#include "orchestrator/traffic/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

namespace pw::traffic {
namespace {

// The counters that only grow while HAProxy runs and the server stays.
constexpr std::pair<const char*, std::uint64_t ServerStat::*> kCounters[] = {
    {"stot", &ServerStat::sessions_total},    {"hrsp_2xx", &ServerStat::responses_2xx},
    {"hrsp_4xx", &ServerStat::responses_4xx}, {"hrsp_5xx", &ServerStat::responses_5xx},
    {"econ", &ServerStat::connection_errors}, {"eresp", &ServerStat::response_errors},
    {"cli_abrt", &ServerStat::client_aborts}, {"srv_abrt", &ServerStat::server_aborts},
    {"wretr", &ServerStat::retries},
};

// The sums over one side (new or old servers) of a step.
struct Side {
  std::size_t servers = 0;
  std::uint64_t requests = 0, errors = 0;
  double latency_sum = 0;  // rtime x requests, for the weighted average

  std::uint64_t failed() const { return std::min(errors, requests); }
  double rate() const {
    return requests == 0 ? 0.0
                         : 100.0 * static_cast<double>(failed()) / static_cast<double>(requests);
  }
  std::optional<double> latency() const {
    if (requests == 0) return std::nullopt;
    return latency_sum / static_cast<double>(requests);
  }
  json::Value figures() const {
    json::Value out = json::Value::object();
    out["requests"] = requests;
    out["errors"] = failed();
    out["error_rate"] = format("%.2f", rate());
    auto average = latency();
    out["latency_ms"] = average ? json::Value(static_cast<std::uint64_t>(std::llround(*average)))
                                : json::Value(nullptr);
    return out;
  }

  static std::string format(const char* pattern, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, pattern, value);
    return buffer;
  }
};

std::uint64_t delta(const ServerStat& now, const ServerStat* before,
                    std::uint64_t ServerStat::*counter) {
  std::uint64_t start = before ? before->*counter : 0;
  return now.*counter >= start ? now.*counter - start : 0;
}

std::string percent(double value) { return Side::format("%.1f%%", value); }
std::string ms(double value) { return Side::format("%.0f ms", value); }
std::string count(std::uint64_t value) { return std::to_string(value); }

}  // namespace

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::pass:
      return "pass";
    case Outcome::fail:
      return "fail";
    case Outcome::inconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

Verdict analyze(const std::vector<ServerStat>& baseline, const std::vector<ServerStat>& current,
                const std::set<std::string>& new_servers, const Thresholds& thresholds) {
  std::map<std::string, const ServerStat*> before;
  for (const auto& stat : baseline) before[stat.server] = &stat;

  Side fresh, old;
  std::string reset;  // the first counter that went backwards
  for (const auto& stat : current) {
    auto found = before.find(stat.server);
    const ServerStat* start = found == before.end() ? nullptr : found->second;
    for (const auto& [name, counter] : kCounters) {
      if (start && stat.*counter < start->*counter && reset.empty()) {
        reset = std::string(name) + " of " + stat.server + " went from " + count(start->*counter) +
                " to " + count(stat.*counter);
      }
    }
    Side& side = new_servers.count(stat.server) ? fresh : old;
    std::uint64_t requests = delta(stat, start, &ServerStat::sessions_total);
    side.servers += 1;
    side.requests += requests;
    for (auto counter :
         {&ServerStat::responses_5xx, &ServerStat::connection_errors, &ServerStat::response_errors,
          &ServerStat::server_aborts, &ServerStat::retries}) {
      side.errors += delta(stat, start, counter);
    }
    side.latency_sum += static_cast<double>(stat.response_time_ms) * static_cast<double>(requests);
  }

  Verdict verdict;
  verdict.figures = {{"new", fresh.figures()}, {"old", old.figures()}};
  if (!reset.empty()) {
    verdict.outcome = Outcome::inconclusive;
    verdict.reason = "counters went backwards (" + reset +
                     "): HAProxy restarted or the server was added again, so this step "
                     "cannot be judged";
    verdict.figures["counter_reset"] = reset;
    return verdict;
  }
  if (fresh.requests < thresholds.min_requests) {
    verdict.outcome = Outcome::inconclusive;
    verdict.reason = count(fresh.requests) + " requests on the new servers, at least " +
                     count(thresholds.min_requests) + " needed";
    return verdict;
  }

  bool old_compared = old.requests >= thresholds.min_requests;
  double old_rate = old_compared ? old.rate() : 0.0;
  std::string new_errors = "new servers: " + percent(fresh.rate()) + " failed requests (" +
                           count(fresh.failed()) + " of " + count(fresh.requests) + ")";
  std::string old_errors;
  if (old_compared) {
    old_errors = "old: " + percent(old_rate) + " (" + count(old.failed()) + " of " +
                 count(old.requests) + ")";
  } else if (old.servers == 0) {
    old_errors = "no old servers (taken as 0.0%)";
  } else {
    old_errors = "old: " + count(old.requests) + " requests, too few to compare (taken as 0.0%)";
  }
  if (fresh.rate() - old_rate > thresholds.max_error_rate) {
    verdict.outcome = Outcome::fail;
    verdict.reason = new_errors + ", " + old_errors + ", limit +" +
                     Side::format("%.1f", thresholds.max_error_rate) + " points";
    return verdict;
  }

  double new_latency = fresh.latency().value_or(0.0);
  std::string latency_summary =
      old.servers == 0 ? "; latency not compared (no old servers)"
                       : "; latency not compared (too few requests on the old servers)";
  if (old_compared) {
    double old_latency = old.latency().value_or(0.0);
    double limit = std::max(static_cast<double>(thresholds.latency_floor_ms),
                            old_latency * thresholds.max_latency_ratio);
    std::string figures = "average response time " + ms(new_latency) + ", old: " + ms(old_latency) +
                          ", limit " + ms(limit) + " (" +
                          Side::format("%.1f", thresholds.max_latency_ratio) + "x old, at least " +
                          count(thresholds.latency_floor_ms) + " ms)";
    if (new_latency > limit) {
      verdict.outcome = Outcome::fail;
      verdict.reason = "new servers: " + figures;
      return verdict;
    }
    latency_summary = "; " + figures;
  }
  verdict.outcome = Outcome::pass;
  verdict.reason = new_errors + ", " + old_errors + ", limit +" +
                   Side::format("%.1f", thresholds.max_error_rate) + " points" + latency_summary;
  return verdict;
}

}  // namespace pw::traffic
