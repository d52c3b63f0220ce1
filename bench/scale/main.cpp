// pw_bench_scale: one rollout of a simulated fleet through the real rollout engine and
// the real Records port (controller::StoreRecords on a SQLite store), driven the way the
// controller's loop drives it (controller/rollouts.cpp: every tick loads the active
// rollouts from the store, then ticks each), while a second thread reads the rollout as
// `GET /v1/rollouts/{id}` does (StoreRecords::load_one + detail_json, under the same store
// mutex). Prints one JSON object of figures; scripts/bench-scale.sh runs it and reports.
//
//   pw_bench_scale --servers N --dir DIR [--regions 50] [--tick-ms 100]
//                  [--status-every-ms 10 (0: no status reader)] [--max-ticks 20000]
//
// Every region has N/regions servers of an earlier release in service, which the rollout
// replaces. The policy: one wave, all regions in parallel (Options::max_parallel =
// regions), canary steps 10/50/100 %, step_wait 2 s, bake_time 2 s, 2 passing health
// checks a second apart, as scripts/bench-rollout.sh. The clock is simulated and moves by
// --tick-ms per tick (the controller's period), so the waits cost ticks, not wall time.
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/scale/measure.hpp"
#include "bench/scale/sim.hpp"
#include "orchestrator/controller/rollout_ports.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::bench {
namespace {

namespace fs = std::filesystem;

struct Args {
  int servers = 0;
  int regions = 50;
  std::string dir;
  rollout::Millis tick_ms = 100;
  int status_every_ms = 10;
  int max_ticks = 20000;
};

Result<Args> parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return make_error(Errc::invalid_argument, flag + ": needs a value");
    std::string value = argv[++i];
    if (flag == "--servers") {
      args.servers = std::stoi(value);
    } else if (flag == "--regions") {
      args.regions = std::stoi(value);
    } else if (flag == "--dir") {
      args.dir = value;
    } else if (flag == "--tick-ms") {
      args.tick_ms = std::stoll(value);
    } else if (flag == "--status-every-ms") {
      args.status_every_ms = std::stoi(value);
    } else if (flag == "--max-ticks") {
      args.max_ticks = std::stoi(value);
    } else {
      return make_error(Errc::invalid_argument, "unknown option " + flag);
    }
  }
  if (args.servers <= 0 || args.regions <= 0 || args.dir.empty() ||
      args.servers % args.regions != 0) {
    return make_error(Errc::invalid_argument,
                      "usage: pw_bench_scale --servers N --dir DIR [--regions R] (N a multiple "
                      "of R)");
  }
  return args;
}

std::uint64_t size_of(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

double ms(std::int64_t us) { return static_cast<double>(us) / 1000.0; }

Status run(const Args& args) {
  const int per_region = args.servers / args.regions;
  fs::create_directories(args.dir);
  const fs::path db_path = fs::path(args.dir) / "store.db";
  PW_TRY_ASSIGN(auto store, store::Store::open(db_path.string()));
  std::mutex store_mutex;  // the controller's store mutex: engine and API share it
  controller::StoreRecords store_records(*store, store_mutex);
  TimedRecords records(store_records);

  SimClock clock;
  SimFleet fleet;
  SimAgents agents;
  SimProbe probe;
  SimTraffic traffic;
  fleet::Policy policy = make_policy(args.regions, per_region);
  rollout::Options options;
  options.max_parallel = args.regions;  // one wave, every region at once
  rollout::Engine engine(rollout::Ports{&clock, &fleet, &agents, &probe, &traffic, &records},
                         options);
  for (const auto& region : policy.regions) {
    auto serving = fleet.seed(region.name, per_region);
    PW_TRY(traffic.apply(region.backend, engine.steady_weights(serving)));
  }

  const std::uint64_t rss_before = status_kib("VmRSS");
  const std::uint64_t hwm_before = status_kib("VmHWM");
  const std::int64_t cpu_before = cpu_us(RUSAGE_SELF);
  const std::int64_t wall_before = wall_us();

  PW_TRY_ASSIGN(auto created,
                engine.create("r1", make_release(), policy, {}, "operator:bench-scale"));

  // `rollout status` while the rollout runs.
  std::atomic<bool> stop{false};
  std::vector<double> status_ms;
  std::int64_t status_cpu = 0;
  std::size_t status_bytes = 0;
  std::string status_error;
  std::thread poller([&] {
    std::int64_t cpu0 = cpu_us(RUSAGE_THREAD);
    while (args.status_every_ms > 0 && !stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(args.status_every_ms));
      std::int64_t t0 = wall_us();
      auto one = store_records.load_one(created.id);
      if (!one.ok() || !*one) {
        status_error = one.ok() ? "rollout not found" : one.error().to_string();
        break;
      }
      std::string body = (*one)->detail_json().dump() + "\n";
      status_ms.push_back(ms(wall_us() - t0));
      status_bytes = std::max(status_bytes, body.size());
    }
    status_cpu = cpu_us(RUSAGE_THREAD) - cpu0;
  });

  // The controller's loop (Rollouts::tick), one simulated period per iteration.
  Span pump, load, tick;
  int ticks = 0;
  Status outcome = Ok{};
  for (; ticks < args.max_ticks; ++ticks) {
    pump.time([&] {
      traffic.pump(static_cast<std::uint64_t>(args.tick_ms) / 10);  // 100 requests/s per server
      return 0;
    });
    auto active = load.time([&] { return store_records.load(true); });
    if (!active.ok()) {
      outcome = std::move(active).error();
      break;
    }
    if (active->empty()) break;
    for (auto& r : *active) {
      auto ticked = tick.time([&] { return engine.tick(r, policy); });
      if (!ticked.ok()) outcome = std::move(ticked).error();
    }
    if (!outcome.ok()) break;
    clock.t += args.tick_ms;
  }
  stop = true;
  poller.join();
  const std::int64_t cpu_total = cpu_us(RUSAGE_SELF) - cpu_before;
  const std::int64_t wall_total = wall_us() - wall_before;
  const std::uint64_t rss_after = status_kib("VmRSS");
  const std::uint64_t hwm_after = status_kib("VmHWM");
  PW_TRY(outcome);
  if (!status_error.empty()) return make_error(Errc::io, "rollout status: " + status_error);

  // The finished rollout, read once more with nothing else running.
  std::int64_t t0 = wall_us();
  PW_TRY_ASSIGN(auto final_one, store_records.load_one(created.id));
  std::size_t final_bytes = final_one ? final_one->detail_json().dump().size() + 1 : 0;
  double status_idle_ms = ms(wall_us() - t0);
  if (!final_one) return make_error(Errc::not_found, "the rollout vanished from the store");
  const rollout::Rollout& done = *final_one;
  int succeeded = 0;
  for (const auto& run : done.regions) succeeded += run.state == rollout::RegionState::succeeded;
  if (done.state != rollout::RolloutState::succeeded) {
    return make_error(Errc::invalid_argument,
                      std::string("the rollout ended ") + rollout::name(done.state) + " after " +
                          std::to_string(ticks) + " ticks (" + std::to_string(succeeded) + " of " +
                          std::to_string(done.regions.size()) + " regions succeeded)");
  }
  PW_TRY_ASSIGN(auto rows, store->db().prepare("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM "
                                               "rollout_regions WHERE rollout_id = ?1"));
  rows.bind(1, created.id);
  PW_TRY_ASSIGN(bool row, rows.step());
  std::int64_t region_bytes = row ? rows.integer(0) : 0;

  const double n = args.servers;
  const double cpu_controller = ms(cpu_total - status_cpu - pump.cpu);
  const std::uint64_t grown = hwm_after > rss_before ? hwm_after - rss_before : 0;
  json::Value out = {
      {"servers", args.servers},
      {"regions", args.regions},
      {"per_region", per_region},
      {"state", rollout::name(done.state)},
      {"regions_succeeded", succeeded},
      {"ticks", ticks},
      {"simulated_s", static_cast<double>(ticks * args.tick_ms) / 1000.0},
      {"wall_s", ms(wall_total) / 1000.0},
      {"cpu_process_ms", ms(cpu_total)},
      {"cpu_status_thread_ms", ms(status_cpu)},
      {"cpu_fake_traffic_ms", ms(pump.cpu)},
      {"cpu_controller_ms", cpu_controller},
      {"cpu_per_server_ms", cpu_controller / n},
      {"tick_wall_ms", ms(tick.wall)},
      {"tick_cpu_ms", ms(tick.cpu)},  // the loop thread only, not its agent-call threads
      {"saves", records.saves.calls},
      {"save_wall_ms", ms(records.saves.wall)},
      {"save_cpu_ms", ms(records.saves.cpu)},
      {"load_calls", load.calls},
      {"load_wall_ms", ms(load.wall)},
      {"load_cpu_ms", ms(load.cpu)},
      {"audits", records.audits},
      {"notifies", records.notifies},
      {"agent_calls", agents.calls.load()},
      {"probe_calls", probe.calls.load()},
      {"rss_before_kib", rss_before},
      {"hwm_before_kib", hwm_before},
      {"hwm_kib", hwm_after},
      {"rss_after_kib", rss_after},
      {"rss_per_server_kib", static_cast<double>(grown) / n},
      {"hwm_per_server_kib", static_cast<double>(hwm_after) / n},
      {"store_db_bytes", size_of(db_path)},
      {"store_wal_bytes", size_of(db_path.string() + "-wal")},
      {"region_rows_bytes", region_bytes},
      {"status_bytes_max", status_bytes},
      {"status_bytes_final", final_bytes},
      {"status_samples", status_ms.size()},
      {"status_p50_ms", percentile(status_ms, 50)},
      {"status_p99_ms", percentile(status_ms, 99)},
      {"status_max_ms", percentile(status_ms, 100)},
      {"status_idle_ms", status_idle_ms},
  };
  std::cout << out.dump() << "\n";
  return Ok{};
}

}  // namespace
}  // namespace pw::bench

int main(int argc, char** argv) {
  auto args = pw::bench::parse_args(argc, argv);
  if (!args.ok()) {
    std::cerr << "pw_bench_scale: " << args.error().to_string() << "\n";
    return 2;
  }
  auto done = pw::bench::run(*args);
  if (!done.ok()) {
    std::cerr << "pw_bench_scale: " << done.error().to_string() << "\n";
    return 1;
  }
  return 0;
}
