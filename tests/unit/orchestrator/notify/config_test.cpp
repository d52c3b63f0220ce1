// The `notifications` section of controller.yaml (orchestrator/controller/config.cpp).
#include <catch2/catch.hpp>

#include "orchestrator/controller/config.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

pw::Result<pw::controller::Config> load(const std::string& notifications) {
  pw::test::TempDir dir;
  pw::test::write_file(dir / "controller.yaml", "state_dir: " + dir.path() +
                                                    "/state\n"
                                                    "manifests:\n"
                                                    "  repository: file:///srv/manifests@main\n"
                                                    "  root: /etc/patchwave/root.json\n" +
                                                    notifications);
  return pw::controller::load_config(dir / "controller.yaml");
}

std::string error_of(const std::string& notifications) {
  auto config = load(notifications);
  REQUIRE_FALSE(config.ok());
  return config.error().to_string();
}

}  // namespace

TEST_CASE("controller.yaml: notifications are read") {
  auto config = load(
      "notifications:\n"
      "  webhooks:\n"
      "    - url: https://hooks.slack.com/services/T000/B000/XXXX\n"
      "      events: [approval.requested, region.rolled_back]\n"
      "    - url: http://127.0.0.1:9000/relay\n"
      "  max_attempts: 5\n"
      "  timeout: 10s\n"
      "  ca_file: /dev/null\n");
  REQUIRE(config.ok());
  const auto& options = config->notifications;
  REQUIRE(options.webhooks.size() == 2);
  CHECK(options.webhooks[0].url == "https://hooks.slack.com/services/T000/B000/XXXX");
  CHECK(options.webhooks[0].events ==
        std::vector<std::string>{"approval.requested", "region.rolled_back"});
  CHECK(options.webhooks[1].events.empty());
  CHECK(options.max_attempts == 5);
  CHECK(options.timeout == std::chrono::seconds(10));
  CHECK(options.ca_file == "/dev/null");
}

TEST_CASE("controller.yaml: without notifications nothing is sent") {
  auto config = load("");
  REQUIRE(config.ok());
  CHECK(config->notifications.webhooks.empty());
  CHECK(config->notifications.max_attempts == 8);
}

TEST_CASE("controller.yaml: bad notifications are refused, naming the entry, not the URL") {
  CHECK_THAT(error_of("notifications:\n  retries: 3\n"),
             Catch::Contains("notifications.retries: unknown key"));
  CHECK_THAT(error_of("notifications:\n  webhooks:\n    - url: http://127.0.0.1/x\n"
                      "      secret: y\n"),
             Catch::Contains("notifications.webhooks[0].secret: unknown key"));
  CHECK_THAT(error_of("notifications:\n  webhooks:\n    - events: [rollout.finished]\n"),
             Catch::Contains("notifications.webhooks[0].url: is required"));

  std::string bad_url =
      error_of("notifications:\n  webhooks:\n    - url: ftp://hooks.example.com/SECRET\n");
  CHECK_THAT(bad_url, Catch::Contains("controller.yaml: notifications.webhooks[0].url: only http "
                                      "and https are used"));
  CHECK(bad_url.find("SECRET") == std::string::npos);

  std::string bad_host =
      error_of("notifications:\n  webhooks:\n    - url: https://hooks.example.com?token=SECRET\n");
  CHECK_THAT(bad_host, Catch::Contains("notifications.webhooks[0].url:"));
  CHECK(bad_host.find("SECRET") == std::string::npos);

  std::string bad_event = error_of(
      "notifications:\n  webhooks:\n    - url: https://hooks.slack.com/services/SECRET\n"
      "      events: [rollout.done]\n");
  CHECK_THAT(bad_event, Catch::Contains("notifications.webhooks[0].events: unknown event "
                                        "'rollout.done'; known: approval.requested, "
                                        "approval.rejected, approval.expired, region.succeeded, "
                                        "region.rolled_back, rollout.finished"));
  CHECK(bad_event.find("SECRET") == std::string::npos);

  CHECK_THAT(error_of("notifications:\n  webhooks:\n    - url: http://127.0.0.1/x\n"
                      "      events: []\n"),
             Catch::Contains("notifications.webhooks[0].events: must list event names"));
  CHECK_THAT(error_of("notifications:\n  webhooks:\n    - url: http://127.0.0.1/SECRET\n"
                      "    - url: http://127.0.0.1/SECRET\n"),
             Catch::Contains("notifications.webhooks[1].url: the same URL as webhooks[0]"));
  CHECK_THAT(error_of("notifications:\n  max_attempts: 0\n"),
             Catch::Contains("notifications.max_attempts: must be 1-100"));
  CHECK_THAT(error_of("notifications:\n  timeout: soon\n"),
             Catch::Contains("notifications.timeout: 'soon' must be a duration"));
  CHECK_THAT(error_of("notifications:\n  ca_file: /nonexistent/ca.pem\n"),
             Catch::Contains("notifications.ca_file: cannot read /nonexistent/ca.pem"));
}

// Not a notification setting, but read by the same loader: where agents reach the controller.
TEST_CASE("controller.yaml: agent_url replaces the address agents get") {
  auto plain = load("listen: 0.0.0.0:9443\n");
  REQUIRE(plain.ok());
  CHECK(plain->url() == "https://127.0.0.1:9443");
  auto behind = load("listen: 0.0.0.0:9443\nagent_url: https://10.0.0.5:443\n");
  REQUIRE(behind.ok());
  CHECK(behind->url() == "https://10.0.0.5:443");
  for (const char* bad : {"http://10.0.0.5:443", "https://10.0.0.5", "https://10.0.0.5:443/x",
                          "https://:443", "https://h:70000", "https://h:0"}) {
    CAPTURE(bad);
    CHECK_THAT(error_of(std::string("agent_url: ") + bad + "\n"),
               Catch::Contains("agent_url: '" + std::string(bad) + "' must be https://HOST:PORT"));
  }
}
