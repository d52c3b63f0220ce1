// Several controllers on one store (PostgreSQL): which one drives each region of a
// rollout. A replica claims a region with a lease row (region_leases: holder, epoch,
// expiry on the database's clock), renews it while it works, and loses it when it stops
// renewing: another replica takes the region over once the lease has expired, with the
// epoch one higher.
//
// Fencing, twice: StoreRecords writes a region's record only while the store still shows
// this replica's claim with its epoch (in the same transaction), and the engine asks
// fence() before every side effect, which is refused once the claim may have expired by
// this process's own monotonic clock (a replica frozen by SIGSTOP or a long pause wakes
// up with that clock far ahead). A single controller on SQLite runs the same code and
// always wins its claims.
//
// Fair share: a replica claims new regions only while it holds fewer than its share of
// the regions that want a driver (ceil(wanted / live replicas)), so that three replicas
// split fifty regions; replicas announce themselves in controller_replicas.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "common/json/json.hpp"
#include "orchestrator/rollout/ports.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::controller {

struct LeaseOptions {
  std::string replica;                     // this process's holder name
  std::string url;                         // where its API answers (shown only)
  std::chrono::milliseconds ttl{10000};    // a claim's life without renewal
  std::chrono::milliseconds margin{1000};  // fence() refuses this long before expiry
};

class StoreLeases final : public rollout::Leases {
 public:
  using Key = std::pair<std::string, std::string>;  // rollout id, region

  StoreLeases(store::Store& store, std::mutex& store_mutex, LeaseOptions options);
  ~StoreLeases();
  StoreLeases(const StoreLeases&) = delete;
  StoreLeases& operator=(const StoreLeases&) = delete;

  // Renews the claims every third of the lease from a thread of its own, so that a
  // long tick (a region of hundreds of servers, an agent that answers slowly) does not
  // lose them - but only while the engine loop shows progress (begin_tick within
  // `stall`): a replica whose loop hangs lets its regions go. A process that is stopped
  // stops renewing with everything else. Without start(), renewals happen in the loop.
  void start(std::chrono::milliseconds stall = std::chrono::milliseconds(60000));
  void stop();

  // Once per engine tick, before the rollouts are ticked: announces this replica,
  // renews the claims past half their life, gives up claims outside `wanted` (finished
  // regions and rollouts) and sets the fair share for new claims.
  void begin_tick(const std::set<Key>& wanted);

  bool drives(const std::string& rollout_id, const std::string& region) override;
  Status fence(const std::string& rollout_id, const std::string& region) override;

  // The epoch this process believes it holds `region` under (StoreRecords checks it in
  // the store before writing); nullopt when it never claimed it.
  std::optional<std::int64_t> epoch(const std::string& rollout_id, const std::string& region) const;
  // Whether this process holds every claim `rollout` has (its record and each unfinished
  // region), none of them lost: then no other replica can have written its rows (their
  // writes are fenced by epoch) and the cached copy is the store's.
  bool holds_all(const rollout::Rollout& rollout) const;
  const std::string& replica() const { return options_.replica; }
  // SQL for "now" in Unix milliseconds on the store's own clock.
  static const char* now_sql(store::Dialect dialect);

  // GET /v1/replicas: the live replicas and the claims in the store.
  Result<json::Value> describe();

 private:
  using Steady = std::chrono::steady_clock;
  struct Claim {
    std::int64_t epoch = 0;
    Steady::time_point valid_until;  // by this process's clock: the lease's end at the latest
    bool lost = false;
  };
  // Claims (or renews) in one write transaction; true when this process holds it after.
  Result<bool> claim(const Key& key);
  Result<bool> renew(const Key& key, Claim& claim);
  Status heartbeat();

  store::Store* store_;
  std::mutex* store_mutex_;
  LeaseOptions options_;
  mutable std::mutex mutex_;  // held_ and the counters below
  std::map<Key, Claim> held_;
  std::map<Key, Steady::time_point> busy_until_;  // held elsewhere: not asked again before
  std::size_t share_ = 0;                         // new claims allowed while held < share
  Steady::time_point next_heartbeat_{};
  Steady::time_point last_tick_{};  // begin_tick's last run (under mutex_)

  void renew_due(Steady::time_point now);
  std::thread renewer_;
  std::mutex renewer_mutex_;
  std::condition_variable renewer_wake_;
  bool stopping_ = false;
};

}  // namespace pw::controller
