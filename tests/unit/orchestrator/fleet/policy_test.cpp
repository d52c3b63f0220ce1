// Catch2 configured as in windows_test.cpp (the same test binary).
#define CATCH_CONFIG_ENABLE_CHRONO_STRINGMAKER
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/crypto/keys.hpp"
#include "orchestrator/fleet/policy.hpp"

namespace fleet = pw::fleet;
namespace crypto = pw::crypto;
using pw::Errc;
using std::chrono::seconds;

namespace {

// Approver keys made for this run: three Ed25519 and one ECDSA P-256.
const std::vector<crypto::PrivateKey>& keys() {
  static const std::vector<crypto::PrivateKey> all = [] {
    std::vector<crypto::PrivateKey> out;
    for (auto type : {crypto::KeyType::ed25519, crypto::KeyType::ed25519, crypto::KeyType::ed25519,
                      crypto::KeyType::ecdsa_p256}) {
      auto key = crypto::PrivateKey::generate(type);
      REQUIRE(key.ok());
      out.push_back(*key);
    }
    return out;
  }();
  return all;
}

// Replaces K1, K2, K3 (Ed25519) and KE (ECDSA) by the public key's JSON, which is
// YAML flow syntax too.
std::string fill(std::string text) {
  const std::pair<const char*, std::size_t> names[] = {{"K1", 0}, {"K2", 1}, {"K3", 2}, {"KE", 3}};
  for (const auto& [name, index] : names) {
    std::string json = keys()[index].public_json().dump();
    for (auto pos = text.find(name); pos != std::string::npos; pos = text.find(name, pos)) {
      text.replace(pos, 2, json);
      pos += json.size();
    }
  }
  return text;
}

// A valid policy with one region; `fields` replace or add region fields (an empty value
// removes one), `top` goes before `regions:`.
std::string doc(const std::map<std::string, std::string>& fields = {},
                const std::string& top = "") {
  std::vector<std::pair<std::string, std::string>> region = {
      {"name", "bw"},
      {"provider", "{kind: local}"},
      {"backend", "app_bw"},
      {"approvers", "{threshold: 1, keys: [K1]}"}};
  for (const auto& [key, value] : fields) {
    auto it = std::find_if(region.begin(), region.end(), [&](auto& f) { return f.first == key; });
    if (it == region.end()) {
      region.emplace_back(key, value);
    } else {
      it->second = value;
    }
  }
  std::string out = "version: 1\n" + top + "regions:\n";
  bool first = true;
  for (const auto& [key, value] : region) {
    if (value.empty()) continue;
    out += (first ? "  - " : "    ") + key + ": " + value + "\n";
    first = false;
  }
  return fill(out);
}

pw::Result<fleet::Policy> parse(const std::string& text) {
  return fleet::parse_policy(text, "fleet.yaml");
}

std::string manifest_file(const char* name) {
  auto path = std::filesystem::path(__FILE__).parent_path() / "../../../../manifests" / name;
  std::ifstream in(path);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string example_text() { return manifest_file("examples/fleet.yaml"); }

// The first ```yaml block of manifests/fleet.md.
std::string documented_example() {
  std::string md = manifest_file("fleet.md");
  auto begin = md.find("```yaml\n");
  REQUIRE(begin != std::string::npos);
  begin += 8;
  auto end = md.find("```", begin);
  REQUIRE(end != std::string::npos);
  return md.substr(begin, end - begin);
}

const std::vector<int> kWeekdays = {0, 1, 2, 3, 4};

}  // namespace

TEST_CASE("the example policy parses into three regions in two waves", "[fleet]") {
  auto policy = parse(example_text());
  INFO((policy.ok() ? "" : policy.error().to_string()));
  REQUIRE(policy.ok());
  REQUIRE(policy->regions.size() == 3);

  const fleet::Region* bw = policy->find("bw");
  REQUIRE(bw != nullptr);
  CHECK(bw->display_name == "AOK Baden-Württemberg");
  CHECK(bw->provider.kind == "local");
  CHECK(bw->servers == 3);
  CHECK(bw->approvers.threshold == 1);
  CHECK(bw->approvers.keys.size() == 2);
  REQUIRE(bw->windows.size() == 1);
  CHECK(bw->windows[0].days == kWeekdays);
  CHECK(bw->windows[0].start_minute == 22 * 60);
  CHECK(bw->windows[0].end_minute == 4 * 60);
  CHECK(bw->emergency_timing.step_wait == seconds{10});
  CHECK(bw->emergency_skips_windows);
  CHECK(bw->emergency_approvals == 1);
  CHECK(bw->approval_timeout == seconds{86400});

  const fleet::Region* by = policy->find("by");
  REQUIRE(by != nullptr);
  CHECK(by->provider.kind == "script");
  CHECK(by->provider.command.size() == 3);
  CHECK(by->provider.timeout == seconds{600});
  CHECK(by->provider.params ==
        std::map<std::string, std::string>{{"flavor", "m1.medium"}, {"network", "dmz-app"}});
  CHECK(by->timing.canary_steps == std::vector<int>{5, 25, 50, 100});
  CHECK(by->timing.step_wait == seconds{300});
  CHECK(by->emergency_timing.bake_time == seconds{600});
  CHECK(by->approvers.threshold == 2);
  REQUIRE(by->approvers.keys.size() == 3);
  CHECK(by->approvers.keys[2].scheme() == "ecdsa-sha2-nistp256");
  CHECK(by->approvers.keys[2].supported());
  CHECK(by->emergency_approvals == 1);  // defaults.emergency.approvals
  CHECK(by->approval_timeout == seconds{8 * 3600});

  const fleet::Region* nw = policy->find("nw");
  REQUIRE(nw != nullptr);
  CHECK(nw->windows.empty());
  CHECK(nw->failure_policy == "continue");
  CHECK(nw->provider.timeout == seconds{120});
  CHECK(nw->emergency_approvals == 0);  // its own: none
  CHECK(policy->find("he") == nullptr);

  REQUIRE(policy->security_officers.has_value());
  CHECK(policy->security_officers->threshold == 2);
  CHECK(policy->security_officers->keys.size() == 3);
  CHECK_FALSE(policy->emergency_single_wave);

  auto waves = policy->waves();
  REQUIRE(waves.size() == 2);
  CHECK(waves[0] == std::vector<const fleet::Region*>{bw});
  CHECK(waves[1] == std::vector<const fleet::Region*>{by, nw});
}

TEST_CASE("the example in fleet.md is the example file", "[fleet]") {
  auto documented = parse(documented_example());
  INFO((documented.ok() ? "" : documented.error().to_string()));
  REQUIRE(documented.ok());
  auto example = parse(example_text());
  REQUIRE(example.ok());
  CHECK(documented->to_json() == example->to_json());
}

TEST_CASE("defaults apply to every region and a region's own settings override them", "[fleet]") {
  std::string defaults =
      "defaults:\n"
      "  servers: 4\n"
      "  canary_steps: [25, 100]\n"
      "  step_wait: 2m\n"
      "  failure_policy: continue\n"
      "  max_error_rate: 0.5\n"
      "  emergency: {step_wait: 30s, skip_windows: true}\n";
  std::string text =
      doc({}, defaults) + fill(
                              "  - name: by\n"
                              "    provider: {kind: local}\n"
                              "    backend: app_by\n"
                              "    approvers: {threshold: 1, keys: [K2]}\n"
                              "    servers: 8\n"
                              "    step_wait: 1m\n"
                              "    health_successes: 5\n"
                              "    emergency: {bake_time: 1m, skip_windows: false}\n");
  auto policy = parse(text);
  INFO((policy.ok() ? "" : policy.error().to_string()));
  REQUIRE(policy.ok());
  const fleet::Region& bw = policy->regions[0];
  CHECK(bw.display_name == "bw");
  CHECK(bw.wave == 1);
  CHECK(bw.servers == 4);
  CHECK(bw.timing.canary_steps == std::vector<int>{25, 100});
  CHECK(bw.timing.step_wait == seconds{120});
  CHECK(bw.timing.bake_time == seconds{600});
  CHECK(bw.timing.health_successes == 3);
  CHECK(bw.timing.max_error_rate == Approx(0.5));
  CHECK(bw.failure_policy == "continue");
  CHECK(bw.emergency_timing.step_wait == seconds{30});
  CHECK(bw.emergency_timing.bake_time == seconds{600});  // no emergency bake_time: the normal
  CHECK(bw.emergency_timing.canary_steps == bw.timing.canary_steps);
  CHECK(bw.emergency_skips_windows);

  const fleet::Region& by = policy->regions[1];
  CHECK(by.servers == 8);
  CHECK(by.timing.step_wait == seconds{60});
  CHECK(by.timing.health_successes == 5);
  CHECK(by.emergency_timing.health_successes == 5);  // never fewer checks
  CHECK(by.emergency_timing.step_wait == seconds{30});
  CHECK(by.emergency_timing.bake_time == seconds{60});
  CHECK_FALSE(by.emergency_skips_windows);
}

TEST_CASE("without defaults the built-in values apply and an emergency is not faster", "[fleet]") {
  auto policy = parse(doc());
  REQUIRE(policy.ok());
  const fleet::Region& r = policy->regions[0];
  CHECK(r.servers == 2);
  CHECK(r.timing.canary_steps == std::vector<int>{10, 50, 100});
  CHECK(r.timing.health_successes == 3);
  CHECK(r.timing.step_wait == seconds{60});
  CHECK(r.timing.bake_time == seconds{600});
  CHECK(r.timing.max_error_rate == Approx(1.0));
  CHECK(r.failure_policy == "halt");
  CHECK(r.emergency_timing.step_wait == seconds{60});
  CHECK(r.emergency_timing.bake_time == seconds{600});
  CHECK_FALSE(r.emergency_skips_windows);
  CHECK(r.windows.empty());
  CHECK(r.provider.params.empty());
}

TEST_CASE("approver keys keep their key ids and to_json shows them with durations in seconds",
          "[fleet]") {
  auto policy = parse(doc({{"approvers", "{threshold: 2, keys: [K1, KE]}"},
                           {"step_wait", "90s"},
                           {"windows",
                            "[{days: [sat, mon], start: \"06:05\", end: \"18:00\", "
                            "timezone: UTC}]"}}));
  INFO((policy.ok() ? "" : policy.error().to_string()));
  REQUIRE(policy.ok());
  const auto& approvers = policy->regions[0].approvers;
  REQUIRE(approvers.keys.size() == 2);
  CHECK(approvers.keys[0].keyid() == keys()[0].public_key().keyid());
  CHECK(approvers.keys[1].keyid() == keys()[3].public_key().keyid());

  auto json = policy->to_json();
  CHECK(json["version"] == 1);
  const auto& region = json["regions"][0];
  CHECK(region["approvers"]["threshold"] == 2);
  CHECK(region["approvers"]["keys"][0]["keyid"] == keys()[0].public_key().keyid());
  CHECK(region["approvers"]["keys"][1]["keytype"] == "ecdsa");
  CHECK(region["timing"]["step_wait_seconds"] == 90);
  CHECK(region["timing"]["bake_time_seconds"] == 600);
  CHECK(region["emergency"]["skip_windows"] == false);
  CHECK(region["windows"][0]["days"] == pw::json::Value::array({"mon", "sat"}));
  CHECK(region["windows"][0]["start"] == "06:05");
  CHECK(region["windows"][0]["end"] == "18:00");
  CHECK(region["provider"]["kind"] == "local");
  CHECK(json.dump().find("yaml") == std::string::npos);
}

TEST_CASE("errors give the source, line and column of the field", "[fleet]") {
  auto policy = parse(doc({{"servers", "0"}}));
  REQUIRE_FALSE(policy.ok());
  CHECK(policy.error().code == Errc::parse);
  CHECK(policy.error().to_string() ==
        "fleet.yaml:7:5: regions[0].servers: must be between 1 and 100");

  auto syntax = parse("version: 1\nregions: [\n");
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.error().code == Errc::parse);
  CHECK(syntax.error().to_string().rfind("fleet.yaml:", 0) == 0);

  auto big = parse(std::string(2 * 1024 * 1024, '#'));
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == Errc::limit);
}

TEST_CASE("every broken rule is refused with the field path in the message", "[fleet]") {
  struct Case {
    std::string yaml;
    const char* expected;
  };
  std::string three_regions = doc() + fill(
                                          "  - name: by\n"
                                          "    provider: {kind: local}\n"
                                          "    backend: app_by\n"
                                          "    approvers: {threshold: 1, keys: [K2]}\n"
                                          "  - name: nw\n"
                                          "    provider: {kind: local}\n"
                                          "    backend: app_nw\n"
                                          "    approvers: {threshold: 4, keys: [K1, K2, K3]}\n");
  auto window = [](const std::string& w) { return doc({{"windows", "[" + w + "]"}}); };
  const Case cases[] = {
      // The document itself.
      {"", "the document is empty"},
      {"- 1\n", "expected a mapping"},
      {"version: 1\nregions: [\n", "fleet.yaml:"},
      {"version: 1\nversion: 1\n", "duplicate key 'version'"},
      {"version: 1\n---\nversion: 1\n", "one YAML document"},
      {"version: &v 1\nregions: *v\n", "aliases (*name) are not supported"},
      {"version: !!int 1\n", "explicit tags"},
      {"version: 1\n[a]: 1\n", "mapping keys must be strings"},
      // Unknown keys anywhere.
      {"versoin: 1\n", "versoin: unknown field (did you mean 'version'?)"},
      {doc({{"aprovers", "{}"}}), "regions[0].aprovers: unknown field (did you mean 'approvers'?)"},
      {doc({}, "defaults: {servrs: 2}\n"), "defaults.servrs: unknown field"},
      {doc({}, "defaults: {name: x}\n"), "defaults.name: unknown field"},
      {doc({}, "defaults: {emergency: {health_successes: 1}}\n"),
       "defaults.emergency.health_successes: unknown field"},
      {doc({{"approvers", "{threshold: 1, keys: [K1], quorum: 1}"}}),
       "regions[0].approvers.quorum: unknown field"},
      {doc({{"approvers",
             "{threshold: 1, keys: [{keytype: ed25519, scheme: ed25519, keyval: "
             "{public: \"00\", private: \"00\"}}]}"}}),
       "regions[0].approvers.keys[0].keyval.private: unknown field"},
      {window("{start: \"22:00\", end: \"04:00\", timezone: UTC, tz: UTC}"),
       "regions[0].windows[0].tz: unknown field"},
      // Version and regions.
      {"version: 2\nregions: []\n", "version: must be 1"},
      {"version: \"1\"\n", "version: must be 1"},
      {"regions: []\n", "version: is required"},
      {"version: 1\n", "regions: is required"},
      {"version: 1\nregions: []\n", "regions: must list at least one region"},
      {"version: 1\nregions: {bw: 1}\n", "regions: expected a list"},
      {doc({{"name", ""}}), "regions[0].name: is required"},
      {doc({{"name", "Bad_Name"}}), "regions[0].name: must match [a-z0-9-]{1,32}"},
      {doc({{"name", std::string(33, 'a')}}), "regions[0].name: must match"},
      {doc({{"display_name", "\"tab\\there\""}}), "regions[0].display_name: must be 1 to 128"},
      {doc({{"wave", "0"}}), "regions[0].wave: must be between 1 and 1000"},
      {doc() + fill("  - {name: bw, provider: {kind: local}, backend: app_by, approvers: "
                    "{threshold: 1, keys: [K1]}}\n"),
       "regions[1].name: 'bw' is already the name of regions[0]"},
      {doc() + fill("  - {name: by, provider: {kind: local}, backend: app_bw, approvers: "
                    "{threshold: 1, keys: [K1]}}\n"),
       "regions[1].backend: 'app_bw' is already the backend of regions[0]"},
      {doc({{"backend", ""}}), "regions[0].backend: is required"},
      {doc({{"backend", "\"app bw\""}}), "regions[0].backend: must match [A-Za-z0-9_.-]{1,64}"},
      // Servers and timing.
      {doc({{"servers", "0"}}), "regions[0].servers: must be between 1 and 100"},
      {doc({{"servers", "101"}}), "regions[0].servers: must be between 1 and 100"},
      {doc({{"servers", "\"3\""}}), "regions[0].servers: must be an integer between 1 and 100"},
      {doc({{"servers", "2.5"}}), "regions[0].servers: must be an integer"},
      {doc({{"servers", "0x10"}}), "regions[0].servers: must be an integer"},
      {doc({}, "defaults: {servers: -1}\n"), "defaults.servers: must be between 1 and 100"},
      {doc({{"canary_steps", "[50, 10, 100]"}}),
       "regions[0].canary_steps[1]: must be greater than the step before it (50)"},
      {doc({{"canary_steps", "[10, 10, 100]"}}), "regions[0].canary_steps[1]: must be greater"},
      {doc({{"canary_steps", "[10, 50]"}}),
       "regions[0].canary_steps[1]: the last step must be 100"},
      {doc({{"canary_steps", "[0, 100]"}}),
       "regions[0].canary_steps[0]: must be between 1 and 100"},
      {doc({{"canary_steps", "[10, 150]"}}),
       "regions[0].canary_steps[1]: must be between 1 and 100"},
      {doc({{"canary_steps", "[]"}}), "regions[0].canary_steps: must list at least one step"},
      {doc({{"canary_steps", "100"}}), "regions[0].canary_steps: expected a list"},
      {doc({{"health_successes", "0"}}), "regions[0].health_successes: must be between 1 and 1000"},
      {doc({{"step_wait", "90"}}), "regions[0].step_wait: '90' is not a duration"},
      {doc({{"step_wait", "1.5h"}}), "regions[0].step_wait: '1.5h' is not a duration"},
      {doc({{"step_wait", "10 m"}}), "regions[0].step_wait: '10 m' is not a duration"},
      {doc({{"step_wait", "1w"}}), "regions[0].step_wait: '1w' is not a duration"},
      {doc({{"step_wait", "-5s"}}), "regions[0].step_wait: '-5s' is not a duration"},
      {doc({{"bake_time", "0s"}}), "regions[0].bake_time: must be longer than 0"},
      {doc({{"bake_time", "31d"}}), "regions[0].bake_time: must be at most 30d"},
      {doc({{"failure_policy", "stop"}}), "regions[0].failure_policy: 'stop' is not one of halt"},
      {doc({{"max_error_rate", "101"}}),
       "regions[0].max_error_rate: must be a number between 0 and 100"},
      {doc({{"max_error_rate", "-1"}}), "regions[0].max_error_rate: must be a number"},
      {doc({{"max_error_rate", "1%"}}), "regions[0].max_error_rate: must be a number"},
      // Emergency waits never longer than the normal ones.
      {doc({}, "defaults: {step_wait: 1m, emergency: {step_wait: 2m}}\n"),
       "defaults.emergency.step_wait: must not be longer than step_wait (1m)"},
      {doc({{"step_wait", "5s"}}, "defaults: {emergency: {step_wait: 10s}}\n"),
       "defaults.emergency.step_wait: must not be longer than step_wait (5s) of region 'bw'"},
      {doc({{"emergency", "{bake_time: 1h}"}}),
       "regions[0].emergency.bake_time: must not be longer than bake_time (10m)"},
      {doc({{"emergency", "{skip_windows: yes}"}}),
       "regions[0].emergency.skip_windows: must be true or false"},
      // Provider.
      {doc({{"provider", ""}}), "regions[0].provider: is required"},
      {doc({{"provider", "local"}}), "regions[0].provider: expected a mapping"},
      {doc({{"provider", "{command: [x]}"}}), "regions[0].provider.kind: is required"},
      {doc({{"provider", "{kind: docker}"}}),
       "regions[0].provider.kind: 'docker' is not one of local, script"},
      {doc({{"provider", "{kind: script}"}}),
       "regions[0].provider.command: is required for a script provider"},
      {doc({{"provider", "{kind: script, command: []}"}}),
       "regions[0].provider.command: must not be empty"},
      {doc({{"provider", "{kind: script, command: [\"\"]}"}}),
       "regions[0].provider.command[0]: the program must not be empty"},
      {doc({{"provider", "{kind: script, command: [x, [y]]}"}}),
       "regions[0].provider.command[1]: expected a string"},
      {doc({{"provider", "{kind: script, command: [x], timeout: 2}"}}),
       "regions[0].provider.timeout: '2' is not a duration"},
      {doc({{"provider", "{kind: local, command: [x]}"}}),
       "regions[0].provider.command: only a script provider takes a command"},
      {doc({{"provider", "{kind: local, timeout: 1m}"}}),
       "regions[0].provider.timeout: only a script provider takes a timeout"},
      {doc({{"provider", "{kind: local, opts: [1]}"}}),
       "regions[0].provider.opts: a provider parameter must be a string"},
      {doc({{"provider", "{kind: local, \"a b\": c}"}}),
       "regions[0].provider.a b: a provider parameter name must match"},
      // Approvers.
      {doc({{"approvers", ""}}), "regions[0].approvers: is required"},
      {doc({{"approvers", "{threshold: 1}"}}), "regions[0].approvers.keys: is required"},
      {doc({{"approvers", "{threshold: 1, keys: []}"}}),
       "regions[0].approvers.keys: must list at least one approver key"},
      {doc({{"approvers", "{keys: [K1]}"}}), "regions[0].approvers.threshold: is required"},
      {doc({{"approvers", "{threshold: -1, keys: [K1]}"}}),
       "regions[0].approvers.threshold: must be between 0 and the number of keys (1)"},
      {three_regions,
       "regions[2].approvers.threshold: must be between 0 and the number of keys (3)"},
      {doc({{"approvers", "{threshold: 1, keys: [K1, K2, K1]}"}}),
       "regions[0].approvers.keys[2]: is the same key as keys[0]"},
      {doc({{"approvers", "{threshold: 1, keys: [{keytype: ed25519, scheme: ed25519}]}"}}),
       "regions[0].approvers.keys[0].keyval: is required"},
      {doc({{"approvers", "{threshold: 1, keys: [{keytype: ed25519, keyval: {public: ab}}]}"}}),
       "regions[0].approvers.keys[0].scheme: is required"},
      {doc({{"approvers",
             "{threshold: 1, keys: [{keytype: ed25519, scheme: ed25519, keyval: {}}]}"}}),
       "regions[0].approvers.keys[0].keyval.public: is required"},
      {doc({{"approvers",
             "{threshold: 1, keys: [{keytype: ed25519, scheme: ed25519, keyval: {public: zz}}]}"}}),
       "regions[0].approvers.keys[0]: "},
      {doc({{"approvers",
             "{threshold: 1, keys: [{keytype: rsa, scheme: rsassa-pss-sha256, "
             "keyval: {public: x}}]}"}}),
       "regions[0].approvers.keys[0]: keytype 'rsa' with scheme 'rsassa-pss-sha256' cannot sign"},
      {doc({{"approvers", "{threshold: 1, keys: [K1], extra: 1}"}}),
       "regions[0].approvers.extra: unknown field"},
      // Windows.
      {doc({{"windows", "{days: [mon]}"}}), "regions[0].windows: expected a list"},
      {window("{days: [], start: \"22:00\", end: \"04:00\", timezone: UTC}"),
       "regions[0].windows[0].days: must list at least one day"},
      {window("{days: [mon, funday], start: \"22:00\", end: \"04:00\", timezone: UTC}"),
       "regions[0].windows[0].days[1]: 'funday' is not one of mon, tue"},
      {window("{days: [Mon], start: \"22:00\", end: \"04:00\", timezone: UTC}"),
       "regions[0].windows[0].days[0]: 'Mon' is not one of"},
      {window("{days: [mon, tue, mon], start: \"22:00\", end: \"04:00\", timezone: UTC}"),
       "regions[0].windows[0].days[2]: 'mon' is listed twice"},
      {window("{end: \"04:00\", timezone: UTC}"), "regions[0].windows[0].start: is required"},
      {window("{start: \"22:00\", timezone: UTC}"), "regions[0].windows[0].end: is required"},
      {window("{start: \"24:00\", end: \"04:00\", timezone: UTC}"),
       "regions[0].windows[0].start: '24:00' is not a time of day HH:MM"},
      {window("{start: \"7:00\", end: \"04:00\", timezone: UTC}"),
       "regions[0].windows[0].start: '7:00' is not a time of day"},
      {window("{start: \"22:00\", end: \"04:60\", timezone: UTC}"),
       "regions[0].windows[0].end: '04:60' is not a time of day"},
      {window("{start: \"22:00\", end: \"22:00\", timezone: UTC}"),
       "regions[0].windows[0].end: must differ from start"},
      {window("{start: \"22:00\", end: \"04:00\"}"), "regions[0].windows[0].timezone: is required"},
      {window("{start: \"22:00\", end: \"04:00\", timezone: Europe/Berln}"),
       "regions[0].windows[0].timezone: 'Europe/Berln' is not a time zone in the tz database"},
      {window("{start: \"22:00\", end: \"04:00\", timezone: \"../../etc/passwd\"}"),
       "regions[0].windows[0].timezone: '../../etc/passwd' is not a time zone"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    auto policy = parse(c.yaml);
    REQUIRE_FALSE(policy.ok());
    std::string text = policy.error().to_string();
    INFO(text);
    CHECK(text.rfind("fleet.yaml", 0) == 0);
    CHECK(text.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("an approver key of a type that cannot sign is unsupported", "[fleet]") {
  auto policy = parse(doc({{"approvers",
                            "{threshold: 1, keys: [{keytype: rsa, scheme: "
                            "rsassa-pss-sha256, keyval: {public: x}}]}"}}));
  REQUIRE_FALSE(policy.ok());
  CHECK(policy.error().code == Errc::unsupported);
}

TEST_CASE("security officers and emergency waves are optional top-level sections", "[fleet]") {
  auto none = parse(doc());
  REQUIRE(none.ok());
  CHECK_FALSE(none->security_officers.has_value());
  CHECK_FALSE(none->emergency_single_wave);

  auto policy = parse(doc(
      {}, "security_officers:\n  threshold: 2\n  keys: [K2, KE, K3]\nemergency_waves: single\n"));
  INFO((policy.ok() ? "" : policy.error().to_string()));
  REQUIRE(policy.ok());
  REQUIRE(policy->security_officers.has_value());
  const fleet::Approvers& officers = *policy->security_officers;
  CHECK(officers.threshold == 2);
  REQUIRE(officers.keys.size() == 3);
  CHECK(officers.keys[0].keyid() == keys()[1].public_key().keyid());
  CHECK(officers.keys[1].keyid() == keys()[3].public_key().keyid());
  CHECK(officers.keys[2].keyid() == keys()[2].public_key().keyid());
  CHECK(policy->emergency_single_wave);
  // The officers are not the region's approvers.
  CHECK(policy->regions[0].approvers.keys.size() == 1);

  auto waves = parse(doc({}, "emergency_waves: policy\n"));
  REQUIRE(waves.ok());
  CHECK_FALSE(waves->emergency_single_wave);
}

TEST_CASE("approval_timeout is a setting: built-in 24h, defaults, then the region's own",
          "[fleet]") {
  auto builtin = parse(doc());
  REQUIRE(builtin.ok());
  CHECK(builtin->regions[0].approval_timeout == seconds{86400});

  std::string text = doc({}, "defaults: {approval_timeout: 8h}\n") +
                     fill(
                         "  - name: by\n"
                         "    provider: {kind: local}\n"
                         "    backend: app_by\n"
                         "    approvers: {threshold: 1, keys: [K2]}\n"
                         "    approval_timeout: 90m\n");
  auto policy = parse(text);
  INFO((policy.ok() ? "" : policy.error().to_string()));
  REQUIRE(policy.ok());
  CHECK(policy->regions[0].approval_timeout == seconds{8 * 3600});
  CHECK(policy->regions[1].approval_timeout == seconds{90 * 60});
  // Not part of the timing, so an emergency does not change it.
  CHECK(policy->regions[1].timing.step_wait == seconds{60});
}

TEST_CASE("emergency approvals default to the threshold and may only be fewer", "[fleet]") {
  auto builtin = parse(doc({{"approvers", "{threshold: 2, keys: [K1, K2, K3]}"}}));
  REQUIRE(builtin.ok());
  CHECK(builtin->regions[0].emergency_approvals == 2);

  // defaults.emergency.approvals: 1 applies to both; `by` asks for none, `nw` for all 3.
  std::string text = doc({{"approvers", "{threshold: 2, keys: [K1, K2, K3]}"}},
                         "defaults: {emergency: {approvals: 1}}\n") +
                     fill(
                         "  - name: by\n"
                         "    provider: {kind: local}\n"
                         "    backend: app_by\n"
                         "    approvers: {threshold: 2, keys: [K1, K2]}\n"
                         "    emergency: {approvals: 0}\n"
                         "  - name: nw\n"
                         "    provider: {kind: local}\n"
                         "    backend: app_nw\n"
                         "    approvers: {threshold: 3, keys: [K1, K2, K3]}\n"
                         "    emergency: {approvals: 3, step_wait: 30s}\n");
  auto policy = parse(text);
  INFO((policy.ok() ? "" : policy.error().to_string()));
  REQUIRE(policy.ok());
  CHECK(policy->regions[0].emergency_approvals == 1);
  CHECK(policy->regions[1].emergency_approvals == 0);
  CHECK(policy->regions[2].emergency_approvals == 3);
  CHECK(policy->regions[2].emergency_timing.step_wait == seconds{30});
  // The region's normal threshold is untouched.
  CHECK(policy->regions[1].approvers.threshold == 2);

  // A default larger than one region's threshold is fine when that region sets its own.
  auto overridden =
      parse(doc({{"emergency", "{approvals: 1}"}}, "defaults: {emergency: {approvals: 2}}\n"));
  INFO((overridden.ok() ? "" : overridden.error().to_string()));
  REQUIRE(overridden.ok());
  CHECK(overridden->regions[0].emergency_approvals == 1);
}

TEST_CASE("the new fields are refused with the field path and the rule", "[fleet]") {
  struct Case {
    std::string yaml;
    const char* expected;
  };
  std::string nw_region = fill(
      "  - name: nw\n"
      "    provider: {kind: local}\n"
      "    backend: app_nw\n"
      "    approvers: {threshold: 1, keys: [K2]}\n");
  const Case cases[] = {
      // security_officers: the same rules as a region's approvers.
      {doc({}, "security_officers: {threshold: 3, keys: [K1, K2]}\n"),
       "fleet.yaml:2:21: security_officers.threshold: must be between 1 and the number of keys "
       "(2)"},
      {doc({}, "security_officers: {threshold: 0, keys: [K1]}\n"),
       "security_officers.threshold: must be between 1 and the number of keys (1)"},
      {doc({}, "security_officers: {threshold: 1, keys: [K1], quorum: 1}\n"),
       "security_officers.quorum: unknown field; security_officers takes: threshold, keys"},
      {doc({}, "security_officers: {treshold: 1, keys: [K1]}\n"),
       "security_officers.treshold: unknown field (did you mean 'threshold'?)"},
      {doc({}, "security_officers: {threshold: 1, keys: []}\n"),
       "security_officers.keys: must list at least one security officer key"},
      {doc({}, "security_officers: {threshold: 1}\n"), "security_officers.keys: is required"},
      {doc({}, "security_officers: {keys: [K1]}\n"), "security_officers.threshold: is required"},
      {doc({}, "security_officers: {threshold: 1, keys: [K1, K1]}\n"),
       "security_officers.keys[1]: is the same key as keys[0]"},
      {doc({}, "security_officers: [K1]\n"), "security_officers: expected a mapping"},
      {doc({},
           "security_officers: {threshold: 1, keys: [{keytype: rsa, scheme: "
           "rsassa-pss-sha256, keyval: {public: x}}]}\n"),
       "security_officers.keys[0]: keytype 'rsa' with scheme 'rsassa-pss-sha256' cannot sign"},
      {doc({}, "security_officer: {threshold: 1, keys: [K1]}\n"),
       "security_officer: unknown field (did you mean 'security_officers'?)"},
      // emergency_waves.
      {doc({}, "emergency_waves: all\n"),
       "fleet.yaml:2:1: emergency_waves: 'all' is not one of policy, single"},
      {doc({}, "emergency_waves: Single\n"), "emergency_waves: 'Single' is not one of"},
      {doc({}, "emergency_waves: [single]\n"), "emergency_waves: expected a string"},
      // approval_timeout: the duration rules.
      {doc({{"approval_timeout", "24"}}),
       "regions[0].approval_timeout: '24' is not a duration: a positive whole number with unit "
       "s, m, h or d"},
      {doc({}, "defaults: {approval_timeout: 1w}\n"),
       "defaults.approval_timeout: '1w' is not a duration"},
      {doc({{"approval_timeout", "0h"}}), "regions[0].approval_timeout: must be longer than 0"},
      {doc({{"approval_timeout", "31d"}}), "regions[0].approval_timeout: must be at most 30d"},
      {doc({}, "defaults: {emergency: {approval_timeout: 1h}}\n"),
       "defaults.emergency.approval_timeout: unknown field"},
      // emergency.approvals: 0..the region's threshold.
      {doc({}, "defaults:\n  emergency:\n    approvals: 2\n"),
       "fleet.yaml:4:5: defaults.emergency.approvals: must not be more than approvers.threshold "
       "(1) of region 'bw': an emergency needs fewer approvals, never more"},
      {doc({{"approvers", "{threshold: 2, keys: [K1, K3]}"}},
           "defaults:\n  emergency:\n    approvals: 2\n") +
           nw_region,
       "fleet.yaml:4:5: defaults.emergency.approvals: must not be more than approvers.threshold "
       "(1) of region 'nw': an emergency needs fewer approvals, never more"},
      {doc({{"emergency", "{approvals: 2}"}}),
       "fleet.yaml:7:17: regions[0].emergency.approvals: must not be more than "
       "approvers.threshold (1): an emergency needs fewer approvals, never more"},
      {doc({{"emergency", "{approvals: -1}"}}),
       "regions[0].emergency.approvals: must be between 0 and approvers.threshold"},
      {doc({}, "defaults: {emergency: {approvals: -1}}\n"),
       "defaults.emergency.approvals: must be between 0 and approvers.threshold"},
      {doc({{"emergency", "{approvals: \"1\"}"}}),
       "regions[0].emergency.approvals: must be an integer between 0 and approvers.threshold"},
      {doc({{"emergency", "{approvals: 0.5}"}}),
       "regions[0].emergency.approvals: must be an integer"},
      {doc({{"emergency", "{approval: 1}"}}),
       "regions[0].emergency.approval: unknown field (did you mean 'approvals'?)"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    auto policy = parse(c.yaml);
    REQUIRE_FALSE(policy.ok());
    std::string text = policy.error().to_string();
    INFO(text);
    CHECK(policy.error().code == (std::string(c.expected).find("cannot sign") != std::string::npos
                                      ? Errc::unsupported
                                      : Errc::parse));
    CHECK(text.rfind("fleet.yaml", 0) == 0);
    CHECK(text.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("to_json shows the security officers, emergency waves and approval settings", "[fleet]") {
  auto plain = parse(doc());
  REQUIRE(plain.ok());
  auto plain_json = plain->to_json();
  REQUIRE(plain_json.contains("security_officers"));
  CHECK(plain_json["security_officers"].is_null());
  CHECK(plain_json["emergency_waves"] == "policy");
  CHECK(plain_json["regions"][0]["approval_timeout_seconds"] == 86400);
  CHECK(plain_json["regions"][0]["emergency"]["approvals"] == 1);

  auto policy = parse(doc({{"approvers", "{threshold: 2, keys: [K1, K2]}"},
                           {"approval_timeout", "2h"},
                           {"emergency", "{approvals: 0}"}},
                          "security_officers: {threshold: 1, keys: [KE, K3]}\n"
                          "emergency_waves: single\n"));
  INFO((policy.ok() ? "" : policy.error().to_string()));
  REQUIRE(policy.ok());
  auto json = policy->to_json();
  const auto& officers = json["security_officers"];
  CHECK(officers["threshold"] == 1);
  REQUIRE(officers["keys"].size() == 2);
  CHECK(officers["keys"][0]["keyid"] == keys()[3].public_key().keyid());
  CHECK(officers["keys"][0]["keytype"] == "ecdsa");
  CHECK(officers["keys"][0]["scheme"] == "ecdsa-sha2-nistp256");
  CHECK(officers["keys"][1]["keyid"] == keys()[2].public_key().keyid());
  CHECK(officers["keys"][1]["keyval"]["public"] ==
        keys()[2].public_json()["keyval"]["public"].get<std::string>());
  CHECK(json["emergency_waves"] == "single");
  const auto& region = json["regions"][0];
  CHECK(region["approval_timeout_seconds"] == 7200);
  CHECK(region["approvers"]["threshold"] == 2);
  CHECK(region["emergency"]["approvals"] == 0);
  CHECK(region["emergency"]["skip_windows"] == false);
}

TEST_CASE("describe_windows of a parsed policy keeps the document's order", "[fleet]") {
  // From a parsed policy, in document order.
  auto policy = parse(doc({{"windows",
                            "[{days: [sat], start: \"06:00\", end: \"18:00\", timezone: UTC}, "
                            "{days: [tue, mon, wed], start: \"22:00\", end: \"04:00\", "
                            "timezone: Europe/Berlin}]"}}));
  INFO((policy.ok() ? "" : policy.error().to_string()));
  REQUIRE(policy.ok());
  CHECK(fleet::describe_windows(policy->regions[0]) ==
        "sat 06:00-18:00 UTC; mon-wed 22:00-04:00 Europe/Berlin");
}

TEST_CASE("a pilot region with threshold 0 opens without approvals; emergencies need fewer",
          "[fleet]") {
  auto pilot = parse(doc({{"approvers", "{threshold: 0, keys: [K1]}"}}));
  REQUIRE(pilot.ok());
  CHECK(pilot->regions[0].approvals_needed(false) == 0);
  CHECK(pilot->regions[0].approvals_needed(true) == 0);

  auto fewer = parse(
      doc({{"approvers", "{threshold: 2, keys: [K1, K2]}"}, {"emergency", "{approvals: 1}"}}));
  REQUIRE(fewer.ok());
  CHECK(fewer->regions[0].approvals_needed(false) == 2);
  CHECK(fewer->regions[0].approvals_needed(true) == 1);

  // A region built by hand, not parsed, needs its full threshold in an emergency too.
  fleet::Region by_hand;
  by_hand.approvers.threshold = 2;
  CHECK(by_hand.approvals_needed(true) == 2);
}
