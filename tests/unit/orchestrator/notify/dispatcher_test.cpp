// The dispatcher against real SQLite stores and the real webhook receiver
// (tests/support/webhook_receiver.py) as a child process on loopback.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/net/http.hpp"
#include "orchestrator/ca/ca.hpp"
#include "orchestrator/notify/notify.hpp"
#include "orchestrator/notify/outbox.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_store.hpp"

extern char** environ;

using namespace std::chrono_literals;
using pw::json::Value;
namespace notify = pw::notify;

namespace {

const std::string kReceiver = PW_FIXTURES_DIR "/../support/webhook_receiver.py";

// Polls `condition` every 20 ms until it holds or `limit` passes.
template <typename F>
bool eventually(F&& condition, std::chrono::milliseconds limit = 15s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// webhook_receiver.py as a child process, stopped (SIGTERM) when this goes away.
class Receiver {
 public:
  explicit Receiver(std::vector<std::string> options = {}) {
    std::vector<std::string> args = {"python3",     kReceiver,    "--out", dir_ / "bodies.jsonl",
                                     "--port-file", dir_ / "port"};
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    REQUIRE(eventually([&] { return std::ifstream(dir_ / "port").good(); }));
    port_ = std::stoi(pw::test::read_file(dir_ / "port"));
  }
  ~Receiver() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // A URL with a secret in its path and query, as Slack's are.
  std::string url() const { return base() + "/services/T000/B000/SECRETPATH?token=SECRETQUERY"; }

  std::vector<Value> bodies() const {
    std::vector<Value> out;
    std::ifstream in(dir_ / "bodies.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(Value::parse(line));
    return out;
  }

 private:
  pw::test::TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

struct Row {
  std::int64_t notification = 0;
  int attempts = 0;
  bool delivered = false, failed = false;
  std::string endpoint, last_error;
};

// An open store and the mutex the controller would hold around it.
struct Fixture {
  pw::test::TempDir dir;
  pw::store::Location where = pw::test::fresh_store(dir);  // reopened by open()
  std::unique_ptr<pw::store::Store> store = open();
  std::mutex mutex;

  std::unique_ptr<pw::store::Store> open() {
    auto opened = pw::store::Store::open(where);
    REQUIRE(opened.ok());
    return std::move(*opened);
  }

  void enqueue(const std::string& event, const Value& fields, const std::string& text) {
    std::lock_guard lock(mutex);
    auto queued = notify::enqueue(store->db(), event, fields, text);
    REQUIRE(queued.ok());
  }

  std::vector<Row> rows(const std::string& url) {
    std::lock_guard lock(mutex);
    auto query = store->db().prepare(
        "SELECT notification_id, attempts, CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END, "
        "CASE WHEN failed_at IS NULL THEN 0 ELSE 1 END, endpoint, last_error "
        "FROM notification_deliveries WHERE webhook = ?1 "
        "ORDER BY notification_id");
    REQUIRE(query.ok());
    query->bind(1, notify::outbox::webhook_key(url));
    std::vector<Row> out;
    while (query->step().value()) {
      out.push_back({query->integer(0), static_cast<int>(query->integer(1)), query->integer(2) != 0,
                     query->integer(3) != 0, query->text(4), query->text(5)});
    }
    return out;
  }

  bool all_delivered(const std::string& url, std::size_t count) {
    auto found = rows(url);
    if (found.size() != count) return false;
    for (const auto& row : found) {
      if (!row.delivered) return false;
    }
    return true;
  }
};

notify::Options fast(std::vector<notify::Webhook> webhooks) {
  notify::Options options;
  options.webhooks = std::move(webhooks);
  options.first_backoff = 20ms;
  options.max_backoff = 100ms;
  options.timeout = 2s;
  return options;
}

}  // namespace

TEST_CASE("a notification reaches its webhook with its text and structured fields") {
  Fixture f;
  Receiver receiver;
  notify::Dispatcher dispatcher(*f.store, f.mutex, fast({{receiver.url(), {}}}));
  REQUIRE(dispatcher.start().ok());
  f.enqueue("approval.requested",
            {{"app", "demo-service"},
             {"version", "1.0.1"},
             {"region", "bw"},
             {"approvals", 2},
             {"required", 3},
             {"text", "cannot override"}},
            "Patchwave: approval requested for demo-service 1.0.1 in region bw: 2 of 3");
  dispatcher.notify();
  REQUIRE(eventually([&] { return f.all_delivered(receiver.url(), 1); }));
  auto bodies = receiver.bodies();
  REQUIRE(bodies.size() == 1);
  CHECK(bodies[0]["text"] ==
        "Patchwave: approval requested for demo-service 1.0.1 in region bw: 2 of 3");
  CHECK(bodies[0]["event"] == "approval.requested");
  CHECK(bodies[0]["app"] == "demo-service");
  CHECK(bodies[0]["approvals"] == 2);
  CHECK(bodies[0]["time"].get<std::string>().size() == 20);  // 2026-11-29T02:10:00Z
  auto rows = f.rows(receiver.url());
  CHECK(rows[0].attempts == 1);
  CHECK(rows[0].endpoint == receiver.base() + "/…");
}

TEST_CASE("a webhook receives only the events it asks for") {
  Fixture f;
  Receiver regions, everything;
  notify::Dispatcher dispatcher(
      *f.store, f.mutex,
      fast({{regions.url(), {"region.succeeded", "region.rolled_back"}}, {everything.url(), {}}}));
  REQUIRE(dispatcher.start().ok());
  f.enqueue("approval.requested", Value::object(), "approval");
  f.enqueue("region.succeeded", {{"region", "bw"}}, "bw succeeded");
  f.enqueue("rollout.finished", nullptr, "finished");
  dispatcher.notify();
  REQUIRE(eventually([&] { return f.all_delivered(everything.url(), 3); }));
  REQUIRE(eventually([&] { return f.all_delivered(regions.url(), 1); }));
  // Fanning out is one transaction: the filtered webhook has no row for the others.
  CHECK(f.rows(regions.url())[0].notification == 2);
  REQUIRE(regions.bodies().size() == 1);
  CHECK(regions.bodies()[0]["event"] == "region.succeeded");
  CHECK(everything.bodies().size() == 3);
}

TEST_CASE("a webhook failing with 500 is retried until it accepts; attempts are recorded") {
  Fixture f;
  Receiver receiver({"--fail-first", "2"});
  notify::Dispatcher dispatcher(*f.store, f.mutex, fast({{receiver.url(), {}}}));
  REQUIRE(dispatcher.start().ok());
  f.enqueue("region.rolled_back", {{"region", "bw"}}, "bw rolled back");
  dispatcher.notify();
  REQUIRE(eventually([&] { return f.all_delivered(receiver.url(), 1); }));
  auto rows = f.rows(receiver.url());
  CHECK(rows[0].attempts == 3);
  CHECK(rows[0].last_error.empty());
  CHECK(receiver.bodies().size() == 3);  // every attempt reached it
}

TEST_CASE("a webhook that never accepts is given up after max_attempts and audited") {
  Fixture f;
  Receiver receiver({"--fail-first", "1000"});
  auto options = fast({{receiver.url(), {}}});
  options.max_attempts = 3;
  notify::Dispatcher dispatcher(*f.store, f.mutex, options);
  REQUIRE(dispatcher.start().ok());
  f.enqueue("rollout.finished", {{"rollout", "r1"}}, "finished");
  dispatcher.notify();
  REQUIRE(eventually([&] {
    auto rows = f.rows(receiver.url());
    return rows.size() == 1 && rows[0].failed;
  }));
  auto rows = f.rows(receiver.url());
  CHECK(rows[0].attempts == 3);
  CHECK(rows[0].last_error == "HTTP 500");
  CHECK_FALSE(rows[0].delivered);
  // No fourth attempt.
  dispatcher.stop();
  CHECK(receiver.bodies().size() == 3);

  std::lock_guard lock(f.mutex);
  auto events = f.store->audit().read();
  REQUIRE(events.ok());
  const pw::store::StoredEvent* failed = nullptr;
  for (const auto& event : *events) {
    if (event.action == "notify.failed") failed = &event;
  }
  REQUIRE(failed != nullptr);
  CHECK(failed->inputs["webhook"] == receiver.base() + "/…");
  CHECK(failed->inputs["attempts"] == 3);
  CHECK(failed->inputs["event"] == "rollout.finished");
  CHECK(failed->outcome == "failed: HTTP 500");
  std::string whole = failed->to_json().dump();
  CHECK(whole.find("SECRET") == std::string::npos);
}

TEST_CASE("a hanging webhook times out without holding back another webhook") {
  Fixture f;
  Receiver hanging({"--delay", "30"}), healthy;
  auto options = fast({{hanging.url(), {}}, {healthy.url(), {}}});
  options.timeout = 300ms;
  options.first_backoff = 5s;  // one timed-out attempt is enough to look at
  options.max_backoff = 5s;
  notify::Dispatcher dispatcher(*f.store, f.mutex, options);
  REQUIRE(dispatcher.start().ok());
  auto started = std::chrono::steady_clock::now();
  f.enqueue("region.succeeded", {{"region", "bw"}}, "bw succeeded");
  dispatcher.notify();
  REQUIRE(eventually([&] { return f.all_delivered(healthy.url(), 1); }));
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  REQUIRE(eventually([&] {
    auto rows = f.rows(hanging.url());
    return rows.size() == 1 && rows[0].attempts == 1;
  }));
  auto row = f.rows(hanging.url())[0];
  CHECK_FALSE(row.delivered);
  CHECK_THAT(row.last_error, Catch::Contains("timed out"));
  CHECK_THAT(row.last_error, Catch::Contains(hanging.base() + "/…"));
  CHECK(row.last_error.find("SECRET") == std::string::npos);
}

TEST_CASE("undelivered notifications are sent by a new dispatcher after a restart") {
  Fixture f;
  Receiver receiver({"--fail-first", "1"});
  auto options = fast({{receiver.url(), {}}});
  options.first_backoff = 300ms;
  options.max_backoff = 300ms;
  {
    // The first controller: one attempt fails, then it stops before the retry.
    notify::Dispatcher dispatcher(*f.store, f.mutex, options);
    REQUIRE(dispatcher.start().ok());
    f.enqueue("approval.expired", {{"region", "bw"}}, "expired");
    dispatcher.notify();
    REQUIRE(eventually([&] {
      auto rows = f.rows(receiver.url());
      return rows.size() == 1 && rows[0].attempts == 1;
    }));
  }
  // Queued while no dispatcher runs.
  f.enqueue("approval.rejected", {{"region", "bw"}}, "rejected");
  f.store.reset();
  f.store = f.open();
  notify::Dispatcher dispatcher(*f.store, f.mutex, options);
  REQUIRE(dispatcher.start().ok());
  REQUIRE(eventually([&] { return f.all_delivered(receiver.url(), 2); }));
  auto rows = f.rows(receiver.url());
  CHECK(rows[0].attempts == 2);
  CHECK(rows[1].attempts == 1);
}

TEST_CASE("notifications never fanned out for a day are dropped, not sent late") {
  Fixture f;
  Receiver receiver;
  f.enqueue("rollout.finished", nullptr, "long ago");
  REQUIRE(f.store->db().exec("UPDATE notifications SET created_at = '2020-01-01T00:00:00Z'").ok());
  f.enqueue("rollout.finished", nullptr, "now");
  notify::Dispatcher dispatcher(*f.store, f.mutex, fast({{receiver.url(), {}}}));
  REQUIRE(dispatcher.start().ok());
  REQUIRE(eventually([&] { return f.all_delivered(receiver.url(), 1); }));
  CHECK(f.rows(receiver.url())[0].notification == 2);
}

TEST_CASE("stop() is prompt, idle or in the middle of an attempt") {
  Fixture f;
  Receiver hanging({"--delay", "30"});
  auto options = fast({{hanging.url(), {}}});
  options.timeout = 20s;
  notify::Dispatcher dispatcher(*f.store, f.mutex, options);
  REQUIRE(dispatcher.start().ok());
  f.enqueue("region.succeeded", nullptr, "bw succeeded");
  dispatcher.notify();
  REQUIRE(eventually([&] { return hanging.bodies().size() == 1; }));  // attempt under way
  auto started = std::chrono::steady_clock::now();
  dispatcher.stop();
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  // The cancelled attempt is not counted.
  CHECK(f.rows(hanging.url())[0].attempts == 0);

  notify::Dispatcher idle(*f.store, f.mutex, fast({{hanging.url(), {}}}));
  REQUIRE(idle.start().ok());
  CHECK(idle.start().error().code == pw::Errc::conflict);
  std::this_thread::sleep_for(50ms);  // let it reach its wait (not an assertion)
  started = std::chrono::steady_clock::now();
  idle.stop();
  idle.stop();
  CHECK(std::chrono::steady_clock::now() - started < 500ms);
}

TEST_CASE("one URL listed twice is one webhook with the events of both") {
  Fixture f;
  Receiver receiver;
  notify::Dispatcher dispatcher(
      *f.store, f.mutex,
      fast({{receiver.url(), {"region.succeeded"}}, {receiver.url(), {"rollout.finished"}}}));
  REQUIRE(dispatcher.start().ok());
  f.enqueue("region.succeeded", nullptr, "a");
  f.enqueue("approval.requested", nullptr, "b");
  f.enqueue("rollout.finished", nullptr, "c");
  dispatcher.notify();
  REQUIRE(eventually([&] { return f.all_delivered(receiver.url(), 2); }));
  CHECK(receiver.bodies().size() == 2);
}

TEST_CASE("https webhooks are verified against ca_file, or the system's bundle") {
  pw::test::TempDir ca_dir;
  auto ca = pw::ca::ControllerCa::init(ca_dir / "ca", "test CA");
  REQUIRE(ca.ok());
  auto credential = ca->issue_controller("hooks.test", {}, {"127.0.0.1"});
  REQUIRE(credential.ok());
  pw::test::write_file(ca_dir / "server.crt", credential->certificate_pem);
  pw::test::write_file(ca_dir / "server.key", credential->private_key_pem);
  std::mutex seen_mutex;
  std::vector<std::string> seen;
  pw::net::ServerOptions server_options;
  server_options.tls = {ca->certificate_file(), ca_dir / "server.crt", ca_dir / "server.key"};
  server_options.require_client_certificate = false;
  auto server = pw::net::Server::start(server_options, [&](const pw::net::Request& request) {
    std::lock_guard lock(seen_mutex);
    seen.push_back(request.method + " " + request.target + " " + request.body);
    pw::net::Response response;
    response.content_type = "text/plain";
    response.body = "ok";
    return response;
  });
  REQUIRE(server.ok());
  std::string url =
      "https://127.0.0.1:" + std::to_string((*server)->port()) + "/services/T000/B000/SECRETPATH";

  Fixture f;
  SECTION("with the CA file: delivered") {
    auto options = fast({{url, {}}});
    options.ca_file = ca->certificate_file();
    notify::Dispatcher dispatcher(*f.store, f.mutex, options);
    REQUIRE(dispatcher.start().ok());
    f.enqueue("rollout.finished", {{"rollout", "r1"}}, "finished");
    dispatcher.notify();
    REQUIRE(eventually([&] { return f.all_delivered(url, 1); }));
    std::lock_guard lock(seen_mutex);
    REQUIRE(seen.size() == 1);
    CHECK_THAT(seen[0], Catch::StartsWith("POST /services/T000/B000/SECRETPATH {"));
  }
  SECTION("with the system's bundle: the private CA is refused, the URL not shown") {
    notify::Dispatcher dispatcher(*f.store, f.mutex, fast({{url, {}}}));
    REQUIRE(dispatcher.start().ok());
    f.enqueue("rollout.finished", {{"rollout", "r1"}}, "finished");
    dispatcher.notify();
    REQUIRE(eventually([&] {
      auto rows = f.rows(url);
      return rows.size() == 1 && rows[0].attempts >= 1;
    }));
    auto row = f.rows(url)[0];
    CHECK_FALSE(row.delivered);
    CHECK_THAT(row.last_error, Catch::Contains("certificate"));
    CHECK(row.last_error.find("SECRET") == std::string::npos);
  }
}

TEST_CASE("enqueue checks its input and only writes the outbox") {
  Fixture f;
  std::lock_guard lock(f.mutex);
  auto& db = f.store->db();
  auto unknown = notify::enqueue(db, "region.exploded", Value::object(), "x");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == pw::Errc::invalid_argument);
  CHECK_THAT(unknown.error().message, Catch::Contains("approval.requested, approval.rejected"));
  auto not_object = notify::enqueue(db, "rollout.finished", Value::array({1}), "x");
  CHECK_FALSE(not_object.ok());
  // Inside the caller's transaction, rolled back with it.
  auto rolled_back = db.transaction([&]() -> pw::Status {
    PW_TRY(notify::enqueue(db, "rollout.finished", nullptr, "x"));
    return pw::make_error(pw::Errc::conflict, "caller failed");
  });
  CHECK_FALSE(rolled_back.ok());
  auto count = db.prepare("SELECT COUNT(*) FROM notifications");
  REQUIRE(count.ok());
  REQUIRE(count->step().value());
  CHECK(count->integer(0) == 0);
}

TEST_CASE("redact_url keeps the scheme, host and port only") {
  CHECK(notify::redact_url("https://hooks.slack.com/services/T000/B000/XXXX") ==
        "https://hooks.slack.com/…");
  CHECK(notify::redact_url("https://example.webhook.office.com/webhookb2/abc@def/x") ==
        "https://example.webhook.office.com/…");
  CHECK(notify::redact_url("http://127.0.0.1:8080/hook?token=secret") == "http://127.0.0.1:8080/…");
  CHECK(notify::redact_url("https://matrix.example.org:8448") ==
        "https://matrix.example.org:8448/…");
  CHECK(notify::redact_url("https://[::1]:9000/x") == "https://[::1]:9000/…");
  CHECK(notify::redact_url("https://[::1]/x") == "https://[::1]/…");
  CHECK(notify::redact_url("https://host?token=secret") == "(invalid URL)");
  CHECK(notify::redact_url("https://user:secret@host/x") == "(invalid URL)");
  CHECK(notify::redact_url("hooks.slack.com/services/secret") == "(invalid URL)");
  CHECK(notify::redact_url("") == "(invalid URL)");
}

TEST_CASE("options are checked before the dispatcher starts, without showing URLs") {
  Fixture f;
  auto options = fast({{"https://hooks.slack.com/services/T000/B000/SECRET", {"rollout.done"}}});
  notify::Dispatcher dispatcher(*f.store, f.mutex, options);
  auto started = dispatcher.start();
  REQUIRE_FALSE(started.ok());
  CHECK_THAT(started.error().to_string(), Catch::Contains("webhooks[0].events"));
  CHECK_THAT(started.error().to_string(), Catch::Contains("rollout.finished"));
  CHECK(started.error().to_string().find("SECRET") == std::string::npos);
  options.webhooks[0] = {"ftp://example.com/SECRET", {}};
  auto bad_url = notify::validate(options);
  REQUIRE_FALSE(bad_url.ok());
  CHECK(bad_url.error().message == "webhooks[0].url: only http and https are used");
}
