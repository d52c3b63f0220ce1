// pw_bench_replica: one controller replica of the `replicas` benchmark
// (scripts/bench-replicas.sh): the real rollout engine, StoreRecords and StoreLeases on a
// shared PostgreSQL store, the simulated fleet of sim.hpp (with one HAProxy shared by all
// replicas, SharedTraffic below), driven as the controller's
// loop drives it (load, leases.begin_tick, engine.tick; every --tick-ms of real time).
//
//   pw_bench_replica --url postgresql://... --name r1 --servers N [--regions 50]
//                    [--lease-ms 3000] [--tick-ms 100] [--speed 10] [--start-ms T]
//                    [--create]
//
// --create makes the rollout and exits. Every replica seeds the same simulated fleet, so
// any one of them can take any region over. The engine's clock is simulated and shared:
// start-ms + speed x (real time since start-ms), so the policy's waits (2 s steps) pass
// `speed` times faster, while leases run on the database's real clock. A replica prints
// one JSON line when the rollout has finished and exits.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <set>
#include <string>
#include <thread>

#include "bench/scale/sim.hpp"
#include "orchestrator/controller/leases.hpp"
#include "orchestrator/controller/rollout_ports.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::bench {
namespace {

struct Args {
  std::string url, name;
  int servers = 0, regions = 50;
  std::int64_t lease_ms = 3000, tick_ms = 100, speed = 10, start_ms = 0;
  bool create = false;
};

std::int64_t real_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct SharedClock final : rollout::Clock {
  std::int64_t start = 0, speed = 1;
  rollout::Millis now() override { return start + (real_ms() - start) * speed; }
};

// Every replica answers for every server: the simulated servers are not its own.
struct AnyFleet final : rollout::Fleet {
  SimFleet inner;
  Result<std::vector<rollout::ServerRef>> serving(const std::string& region) override {
    return inner.serving(region);
  }
  Result<std::vector<rollout::ServerRef>> provision(const std::string& region,
                                                    const std::string& rollout_id,
                                                    int count) override {
    return inner.provision(region, rollout_id, count);
  }
  Result<bool> enrolled(const std::string&) override { return true; }
  Status decommission(const std::string& region, const rollout::ServerRef& server) override {
    return inner.decommission(region, server);
  }
  Status promote(const std::string& region, const std::vector<rollout::ServerRef>& fresh,
                 const std::vector<rollout::ServerRef>& previous) override {
    return inner.promote(region, fresh, previous);
  }
};

// The region's HAProxy, shared by every replica as in production: its counters are a
// function of the shared clock (each server of the region's rollout record has answered
// 100 requests per simulated second, all 2xx), so every replica reads the same figures,
// whichever applied the weights.
struct SharedTraffic final : rollout::Traffic {
  SharedClock* clock = nullptr;
  const rollout::Rollout* current = nullptr;  // the rollout being ticked
  Status apply(const std::string&, const std::vector<rollout::Weight>&) override { return Ok{}; }
  Status remove(const std::string&, const std::vector<std::string>&) override { return Ok{}; }
  Result<std::vector<traffic::ServerStat>> stats(const std::string& backend) override {
    std::vector<traffic::ServerStat> out;
    if (current == nullptr) return out;
    auto requests = static_cast<std::uint64_t>((clock->now() - clock->start) / 10);
    for (const auto& run : current->regions) {
      if (run.backend != backend) continue;
      for (const auto* list : {&run.previous, &run.fresh}) {
        for (const auto& server : *list) {
          traffic::ServerStat stat;
          stat.backend = backend;
          stat.server = server.name;
          stat.status = "UP";
          stat.weight = 1;
          stat.sessions_total = requests;
          stat.responses_2xx = requests;
          stat.response_time_ms = 5;
          out.push_back(std::move(stat));
        }
      }
    }
    return out;
  }
};

Result<Args> parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--create") {
      args.create = true;
      continue;
    }
    if (i + 1 >= argc) return make_error(Errc::invalid_argument, flag + ": needs a value");
    std::string value = argv[++i];
    if (flag == "--url") {
      args.url = value;
    } else if (flag == "--name") {
      args.name = value;
    } else if (flag == "--servers") {
      args.servers = std::stoi(value);
    } else if (flag == "--regions") {
      args.regions = std::stoi(value);
    } else if (flag == "--lease-ms") {
      args.lease_ms = std::stoll(value);
    } else if (flag == "--tick-ms") {
      args.tick_ms = std::stoll(value);
    } else if (flag == "--speed") {
      args.speed = std::stoll(value);
    } else if (flag == "--start-ms") {
      args.start_ms = std::stoll(value);
    } else {
      return make_error(Errc::invalid_argument, "unknown flag " + flag);
    }
  }
  if (args.url.empty() || args.servers < args.regions || args.regions < 1) {
    return make_error(Errc::invalid_argument, "--url and --servers (>= --regions) are required");
  }
  if (args.name.empty()) args.name = "bench-" + std::to_string(::getpid());
  if (args.start_ms == 0) args.start_ms = real_ms();
  return args;
}

Status run(const Args& args) {
  const int per_region = args.servers / args.regions;
  PW_TRY_ASSIGN(auto where, store::Location::postgresql(args.url));
  PW_TRY_ASSIGN(auto store, store::Store::open(where));
  std::mutex store_mutex;
  controller::LeaseOptions lease;
  lease.replica = args.name;
  lease.ttl = std::chrono::milliseconds(args.lease_ms);
  lease.margin = lease.ttl / 10;
  controller::StoreLeases leases(*store, store_mutex, lease);
  controller::StoreRecords records(*store, store_mutex);
  records.set_leases(&leases);
  leases.start();
  SharedClock clock;
  clock.start = args.start_ms;
  clock.speed = args.speed;
  AnyFleet fleet;
  SimAgents agents;
  SimProbe probe;
  SharedTraffic traffic;
  traffic.clock = &clock;
  fleet::Policy policy = make_policy(args.regions, per_region);
  rollout::Options options;
  options.max_parallel = args.regions;
  rollout::Engine engine(
      rollout::Ports{&clock, &fleet, &agents, &probe, &traffic, &records, &leases}, options);
  for (const auto& region : policy.regions) {
    auto serving = fleet.inner.seed(region.name, per_region);
    PW_TRY(traffic.apply(region.backend, engine.steady_weights(serving)));
  }
  if (args.create) {
    auto created = engine.create("r1", make_release(), policy, {}, "operator:bench-replicas");
    if (!created.ok()) return std::move(created).error();
    return Ok{};
  }
  int ticks = 0;
  std::int64_t began = real_ms();
  for (;; ++ticks) {
    auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(args.tick_ms);
    PW_TRY_ASSIGN(auto active, records.load(true));
    if (active.empty()) {
      leases.begin_tick({});  // gives the claims back
      break;
    }
    std::set<controller::StoreLeases::Key> wanted;
    for (const auto& r : active) {
      wanted.insert({r.id, ""});
      for (const auto& run : r.regions) {
        if (!rollout::terminal(run.state)) wanted.insert({r.id, run.region});
      }
    }
    leases.begin_tick(wanted);
    for (auto& r : active) {
      traffic.current = &r;
      auto ticked = engine.tick(r, policy);
      if (!ticked.ok() && ticked.error().message.rfind("fenced", 0) != 0) {
        std::cerr << args.name << ": " << ticked.error().to_string() << "\n";
      }
    }
    std::this_thread::sleep_until(next);
  }
  json::Value out = {{"replica", args.name},
                     {"ticks", ticks},
                     {"wall_s", static_cast<double>(real_ms() - began) / 1000.0},
                     {"agent_calls", agents.calls.load()}};
  std::cout << out.dump() << "\n";
  return Ok{};
}

}  // namespace
}  // namespace pw::bench

int main(int argc, char** argv) {
  auto args = pw::bench::parse_args(argc, argv);
  if (!args.ok()) {
    std::cerr << "pw_bench_replica: " << args.error().to_string() << "\n";
    return 2;
  }
  auto done = pw::bench::run(*args);
  if (!done.ok()) {
    std::cerr << "pw_bench_replica: " << done.error().to_string() << "\n";
    return 1;
  }
  return 0;
}
