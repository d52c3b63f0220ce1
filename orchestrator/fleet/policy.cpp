// Reading and validating the fleet policy (format: manifests/fleet.md).
#include "orchestrator/fleet/policy.hpp"

#include <algorithm>
#include <exception>
#include <limits>

#include "orchestrator/fleet/internal.hpp"

namespace pw::fleet {
namespace {

using detail::Field;
using detail::Node;
using detail::Object;
using detail::Reader;
using std::chrono::seconds;

const std::vector<std::string_view> kTopKeys = {"version", "security_officers", "emergency_waves",
                                                "defaults", "regions"};
const std::vector<std::string_view> kSettingKeys = {
    "servers",          "canary_steps",   "health_successes", "step_wait", "bake_time",
    "approval_timeout", "failure_policy", "max_error_rate",   "emergency"};
const std::vector<std::string_view> kEmergencyKeys = {"step_wait", "bake_time", "skip_windows",
                                                      "approvals"};
const std::vector<std::string_view> kApproverKeys = {"threshold", "keys"};
const std::vector<std::string_view> kKeyKeys = {"keytype", "scheme", "keyval"};
const std::vector<std::string_view> kWindowKeys = {"days", "start", "end", "timezone"};
const std::vector<std::string_view> kDayNames = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::vector<std::string_view> region_keys() {
  std::vector<std::string_view> keys = {"name",    "display_name", "wave",   "provider",
                                        "backend", "approvers",    "windows"};
  keys.insert(keys.end(), kSettingKeys.begin(), kSettingKeys.end());
  return keys;
}

bool matches(std::string_view s, std::size_t max, std::string_view extra, bool upper) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper && c >= 'A' && c <= 'Z') ||
           extra.find(c) != std::string_view::npos;
  });
}

// A value from `defaults` or a region, with the field it was read from.
template <typename T>
struct Setting {
  T value;
  Field field;
};

struct Settings {
  std::optional<Setting<int>> servers;
  std::optional<Setting<std::vector<int>>> canary_steps;
  std::optional<Setting<std::uint32_t>> health_successes;
  std::optional<Setting<seconds>> step_wait, bake_time, approval_timeout;
  std::optional<Setting<std::string>> failure_policy;
  std::optional<Setting<double>> max_error_rate;
  std::optional<Setting<seconds>> emergency_step_wait, emergency_bake_time;
  std::optional<Setting<bool>> emergency_skips_windows;
  // Checked against each region's approvers.threshold when the region is resolved.
  std::optional<Setting<std::size_t>> emergency_approvals;
};

template <typename T>
const std::optional<Setting<T>>& pick(const std::optional<Setting<T>>& region,
                                      const std::optional<Setting<T>>& defaults) {
  return region ? region : defaults;
}

Result<std::vector<int>> read_steps(const Reader& r, const Field& field) {
  PW_TRY_ASSIGN(std::vector<Field> items, r.list(field));
  if (items.empty()) return r.error(field, "must list at least one step (the last is 100)");
  std::vector<int> steps;
  for (const auto& item : items) {
    PW_TRY_ASSIGN(long long step, r.integer(item, 1, 100));
    if (!steps.empty() && step <= steps.back()) {
      return r.error(item, "must be greater than the step before it (" +
                               std::to_string(steps.back()) + "); steps strictly increase");
    }
    steps.push_back(static_cast<int>(step));
  }
  if (steps.back() != 100) return r.error(items.back(), "the last step must be 100");
  return steps;
}

Status read_settings(const Reader& r, const Object& object, Settings& out) {
  if (auto f = object.get("servers")) {
    PW_TRY_ASSIGN(long long n, r.integer(*f, 1, 100));
    out.servers = Setting<int>{static_cast<int>(n), *f};
  }
  if (auto f = object.get("canary_steps")) {
    PW_TRY_ASSIGN(std::vector<int> steps, read_steps(r, *f));
    out.canary_steps = Setting<std::vector<int>>{std::move(steps), *f};
  }
  if (auto f = object.get("health_successes")) {
    PW_TRY_ASSIGN(long long n, r.integer(*f, 1, 1000));
    out.health_successes = Setting<std::uint32_t>{static_cast<std::uint32_t>(n), *f};
  }
  if (auto f = object.get("step_wait")) {
    PW_TRY_ASSIGN(seconds d, r.duration(*f));
    out.step_wait = Setting<seconds>{d, *f};
  }
  if (auto f = object.get("bake_time")) {
    PW_TRY_ASSIGN(seconds d, r.duration(*f));
    out.bake_time = Setting<seconds>{d, *f};
  }
  if (auto f = object.get("approval_timeout")) {
    PW_TRY_ASSIGN(seconds d, r.duration(*f));
    out.approval_timeout = Setting<seconds>{d, *f};
  }
  if (auto f = object.get("failure_policy")) {
    PW_TRY_ASSIGN(std::string policy, r.string(*f));
    if (policy != "halt" && policy != "continue") {
      return r.error(*f, "'" + policy + "' is not one of halt, continue");
    }
    out.failure_policy = Setting<std::string>{policy, *f};
  }
  if (auto f = object.get("max_error_rate")) {
    PW_TRY_ASSIGN(double rate, r.number(*f, 0, 100));
    out.max_error_rate = Setting<double>{rate, *f};
  }
  if (auto f = object.get("emergency")) {
    PW_TRY_ASSIGN(Object emergency, r.object(*f, kEmergencyKeys));
    if (auto e = emergency.get("step_wait")) {
      PW_TRY_ASSIGN(seconds d, r.duration(*e));
      out.emergency_step_wait = Setting<seconds>{d, *e};
    }
    if (auto e = emergency.get("bake_time")) {
      PW_TRY_ASSIGN(seconds d, r.duration(*e));
      out.emergency_bake_time = Setting<seconds>{d, *e};
    }
    if (auto e = emergency.get("skip_windows")) {
      PW_TRY_ASSIGN(bool skip, r.boolean(*e));
      out.emergency_skips_windows = Setting<bool>{skip, *e};
    }
    if (auto e = emergency.get("approvals")) {
      // The upper bound is the threshold of each region this applies to (resolve_approvals).
      PW_TRY_ASSIGN(long long n, r.integer(*e, 0, std::numeric_limits<long long>::max(),
                                           "0 and approvers.threshold"));
      out.emergency_approvals = Setting<std::size_t>{static_cast<std::size_t>(n), *e};
    }
  }
  return Ok{};
}

// The emergency wait: its own setting, or the normal wait when it has none; never longer.
Result<seconds> emergency_wait(const Reader& r, const std::optional<Setting<seconds>>& setting,
                               seconds normal, std::string_view normal_name,
                               std::string_view region) {
  if (!setting) return normal;
  if (setting->value > normal) {
    std::string rule = "must not be longer than " + std::string(normal_name) + " (" +
                       format_duration(normal) + ")";
    if (!region.empty() && setting->field.path.starts_with("defaults.")) {
      rule += " of region '" + std::string(region) + "'";
    }
    return r.error(setting->field, rule + ": an emergency shortens waits, never lengthens them");
  }
  return setting->value;
}

// The approvals an emergency needs in the region: its own setting, or the region's normal
// threshold when it has none; never more.
Status resolve_approvals(const Reader& r, const Settings& defaults, const Settings& own,
                         Region& region) {
  const auto& setting = pick(own.emergency_approvals, defaults.emergency_approvals);
  region.emergency_approvals = region.approvers.threshold;
  if (!setting) return Ok{};
  if (setting->value > region.approvers.threshold) {
    std::string rule = "must not be more than approvers.threshold (" +
                       std::to_string(region.approvers.threshold) + ")";
    if (setting->field.path.starts_with("defaults.")) {
      rule += " of region '" + region.name + "'";
    }
    return r.error(setting->field, rule + ": an emergency needs fewer approvals, never more");
  }
  region.emergency_approvals = setting->value;
  return Ok{};
}

// Built-in values, then `defaults`, then the region's own settings.
Status resolve(const Reader& r, const Settings& defaults, const Settings& own, Region& region) {
  Timing& t = region.timing;
  t.canary_steps = {10, 50, 100};
  if (const auto& s = pick(own.servers, defaults.servers)) region.servers = s->value;
  if (const auto& s = pick(own.canary_steps, defaults.canary_steps)) t.canary_steps = s->value;
  if (const auto& s = pick(own.health_successes, defaults.health_successes)) {
    t.health_successes = s->value;
  }
  if (const auto& s = pick(own.step_wait, defaults.step_wait)) t.step_wait = s->value;
  if (const auto& s = pick(own.bake_time, defaults.bake_time)) t.bake_time = s->value;
  region.approval_timeout = seconds{86400};
  if (const auto& s = pick(own.approval_timeout, defaults.approval_timeout)) {
    region.approval_timeout = s->value;
  }
  if (const auto& s = pick(own.max_error_rate, defaults.max_error_rate)) {
    t.max_error_rate = s->value;
  }
  region.failure_policy = "halt";
  if (const auto& s = pick(own.failure_policy, defaults.failure_policy)) {
    region.failure_policy = s->value;
  }
  region.emergency_timing = t;
  PW_TRY_ASSIGN(region.emergency_timing.step_wait,
                emergency_wait(r, pick(own.emergency_step_wait, defaults.emergency_step_wait),
                               t.step_wait, "step_wait", region.name));
  PW_TRY_ASSIGN(region.emergency_timing.bake_time,
                emergency_wait(r, pick(own.emergency_bake_time, defaults.emergency_bake_time),
                               t.bake_time, "bake_time", region.name));
  region.emergency_skips_windows = false;
  if (const auto& s = pick(own.emergency_skips_windows, defaults.emergency_skips_windows)) {
    region.emergency_skips_windows = s->value;
  }
  return Ok{};
}

Result<Provider> read_provider(const Reader& r, const Field& field) {
  PW_TRY_ASSIGN(Object object, r.object(field, {}));
  PW_TRY_ASSIGN(Field kind_field, r.require(object, "kind"));
  Provider provider;
  PW_TRY_ASSIGN(provider.kind, r.string(kind_field));
  if (provider.kind != "local" && provider.kind != "script") {
    return r.error(kind_field, "'" + provider.kind + "' is not one of local, script");
  }
  bool script = provider.kind == "script";
  const auto& entries = field.node->entries;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string& key = entries[i].key;
    const Field& f = object.fields[i];
    if (key == "kind") continue;
    if ((key == "command" || key == "timeout") && !script) {
      return r.error(f, "only a script provider takes a " + key);
    }
    if (key == "command") {
      PW_TRY_ASSIGN(std::vector<Field> argv, r.list(f));
      if (argv.empty()) return r.error(f, "must not be empty: [program, arguments...]");
      for (const auto& arg : argv) {
        PW_TRY_ASSIGN(std::string value, r.string(arg));
        provider.command.push_back(std::move(value));
      }
      if (provider.command[0].empty()) return r.error(argv[0], "the program must not be empty");
    } else if (key == "timeout") {
      PW_TRY_ASSIGN(provider.timeout, r.duration(f));
    } else {
      if (!matches(key, 64, "_.-", true)) {
        return r.error(f, "a provider parameter name must match [A-Za-z0-9_.-]{1,64}");
      }
      if (f.node->kind != Node::Kind::scalar) {
        return r.error(f, "a provider parameter must be a string");
      }
      PW_TRY_ASSIGN(std::string value, r.string(f));
      provider.params.emplace(key, std::move(value));
    }
  }
  if (script && provider.command.empty()) {
    return r.error(detail::child(field, "command", *field.node, field.mark),
                   "is required for a script provider: [program, arguments...]");
  }
  return provider;
}

Result<crypto::PublicKey> read_key(const Reader& r, const Field& field) {
  PW_TRY_ASSIGN(Object object, r.object(field, kKeyKeys));
  json::Value key = json::Value::object();
  for (const char* name : {"keytype", "scheme"}) {
    PW_TRY_ASSIGN(Field f, r.require(object, name));
    PW_TRY_ASSIGN(std::string value, r.string(f));
    key[name] = value;
  }
  PW_TRY_ASSIGN(Field keyval_field, r.require(object, "keyval"));
  PW_TRY_ASSIGN(Object keyval, r.object(keyval_field, {"public"}));
  PW_TRY_ASSIGN(Field public_field, r.require(keyval, "public"));
  PW_TRY_ASSIGN(std::string material, r.string(public_field));
  key["keyval"] = json::Value{{"public", material}};

  auto parsed = crypto::PublicKey::from_json(key);
  if (!parsed.ok()) return r.error(field, parsed.error().message, parsed.error().code);
  if (!parsed->supported()) {
    return r.error(field,
                   "keytype '" + key["keytype"].get<std::string>() + "' with scheme '" +
                       key["scheme"].get<std::string>() +
                       "' cannot sign approvals; use ed25519 or ecdsa-sha2-nistp256",
                   Errc::unsupported);
  }
  return std::move(parsed).value();
}

// A region's `approvers` or the top-level `security_officers`; `whose` names the keys in
// the message for an empty list ("approver", "security officer"). A region's threshold
// may be 0: it opens without approvals (a pilot region), and its approvers may still
// reject; the officers' threshold is at least 1.
Result<Approvers> read_approvers(const Reader& r, const Field& field, std::string_view whose,
                                 long long min_threshold) {
  PW_TRY_ASSIGN(Object object, r.object(field, kApproverKeys));
  PW_TRY_ASSIGN(Field keys_field, r.require(object, "keys"));
  PW_TRY_ASSIGN(std::vector<Field> items, r.list(keys_field));
  if (items.empty()) {
    return r.error(keys_field, "must list at least one " + std::string(whose) + " key");
  }
  Approvers approvers;
  for (std::size_t i = 0; i < items.size(); ++i) {
    PW_TRY_ASSIGN(crypto::PublicKey key, read_key(r, items[i]));
    for (std::size_t j = 0; j < approvers.keys.size(); ++j) {
      if (approvers.keys[j].keyid() == key.keyid() ||
          approvers.keys[j].identity() == key.identity()) {
        return r.error(items[i], "is the same key as keys[" + std::to_string(j) + "] (key id " +
                                     key.keyid().substr(0, 16) +
                                     "...); a key counts once toward the threshold");
      }
    }
    approvers.keys.push_back(std::move(key));
  }
  PW_TRY_ASSIGN(Field threshold_field, r.require(object, "threshold"));
  auto count = static_cast<long long>(approvers.keys.size());
  PW_TRY_ASSIGN(long long threshold,
                r.integer(threshold_field, min_threshold, count,
                          std::to_string(min_threshold) + " and the number of keys (" +
                              std::to_string(count) + ")"));
  approvers.threshold = static_cast<std::size_t>(threshold);
  return approvers;
}

Result<Window> read_window(const Reader& r, const Field& field) {
  PW_TRY_ASSIGN(Object object, r.object(field, kWindowKeys));
  Window window;
  if (auto days_field = object.get("days")) {
    PW_TRY_ASSIGN(std::vector<Field> days, r.list(*days_field));
    if (days.empty()) return r.error(*days_field, "must list at least one day (or be left out)");
    for (const auto& day : days) {
      PW_TRY_ASSIGN(std::string name, r.string(day));
      auto it = std::find(kDayNames.begin(), kDayNames.end(), name);
      if (it == kDayNames.end()) {
        return r.error(day, "'" + name + "' is not one of mon, tue, wed, thu, fri, sat, sun");
      }
      int index = static_cast<int>(it - kDayNames.begin());
      if (std::find(window.days.begin(), window.days.end(), index) != window.days.end()) {
        return r.error(day, "'" + name + "' is listed twice");
      }
      window.days.push_back(index);
    }
    std::sort(window.days.begin(), window.days.end());
  } else {
    window.days = {0, 1, 2, 3, 4, 5, 6};
  }
  PW_TRY_ASSIGN(Field start, r.require(object, "start"));
  PW_TRY_ASSIGN(window.start_minute, r.time_of_day(start));
  PW_TRY_ASSIGN(Field end, r.require(object, "end"));
  PW_TRY_ASSIGN(window.end_minute, r.time_of_day(end));
  if (window.start_minute == window.end_minute) {
    return r.error(end, "must differ from start (an end before the start crosses midnight)");
  }
  PW_TRY_ASSIGN(Field zone, r.require(object, "timezone"));
  PW_TRY_ASSIGN(window.timezone, r.string(zone));
  if (!detail::timezone_exists(window.timezone)) {
    return r.error(zone, "'" + window.timezone +
                             "' is not a time zone in the tz database (e.g. Europe/Berlin, UTC)");
  }
  return window;
}

Result<Region> read_region(const Reader& r, const Field& field, const Settings& defaults) {
  PW_TRY_ASSIGN(Object object, r.object(field, region_keys()));
  Region region;
  PW_TRY_ASSIGN(Field name, r.require(object, "name"));
  PW_TRY_ASSIGN(region.name, r.string(name));
  if (!matches(region.name, 32, "-", false)) return r.error(name, "must match [a-z0-9-]{1,32}");
  region.display_name = region.name;
  if (auto f = object.get("display_name")) {
    PW_TRY_ASSIGN(region.display_name, r.string(*f));
    bool control = std::any_of(region.display_name.begin(), region.display_name.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (region.display_name.empty() || region.display_name.size() > 128 || control) {
      return r.error(*f, "must be 1 to 128 bytes without control characters");
    }
  }
  if (auto f = object.get("wave")) {
    PW_TRY_ASSIGN(long long wave, r.integer(*f, 1, 1000));
    region.wave = static_cast<int>(wave);
  }
  PW_TRY_ASSIGN(Field provider, r.require(object, "provider"));
  PW_TRY_ASSIGN(region.provider, read_provider(r, provider));
  PW_TRY_ASSIGN(Field backend, r.require(object, "backend"));
  PW_TRY_ASSIGN(region.backend, r.string(backend));
  if (!matches(region.backend, 64, "_.-", true)) {
    return r.error(backend, "must match [A-Za-z0-9_.-]{1,64} (an HAProxy backend name)");
  }
  PW_TRY_ASSIGN(Field approvers, r.require(object, "approvers"));
  PW_TRY_ASSIGN(region.approvers, read_approvers(r, approvers, "approver", 0));
  if (auto f = object.get("windows")) {
    PW_TRY_ASSIGN(std::vector<Field> windows, r.list(*f));
    if (windows.size() > 32) return r.error(*f, "must list at most 32 windows");
    for (const auto& w : windows) {
      PW_TRY_ASSIGN(Window window, read_window(r, w));
      region.windows.push_back(std::move(window));
    }
  }
  Settings own;
  PW_TRY(read_settings(r, object, own));
  PW_TRY(resolve(r, defaults, own, region));
  PW_TRY(resolve_approvals(r, defaults, own, region));
  return region;
}

Result<Policy> read_policy(const Reader& r, const Node& root) {
  Field top{&root, "", root.mark};
  if (root.kind == Node::Kind::null) {
    return r.error(top, "the document is empty; a fleet policy needs version and regions");
  }
  PW_TRY_ASSIGN(Object object, r.object(top, kTopKeys));
  Policy policy;
  PW_TRY_ASSIGN(Field version, r.require(object, "version"));
  auto v = r.integer(version, 1, 1);
  if (!v.ok()) return r.error(version, "must be 1 (the only version this Patchwave reads)");
  policy.version = 1;

  if (auto f = object.get("security_officers")) {
    PW_TRY_ASSIGN(policy.security_officers, read_approvers(r, *f, "security officer", 1));
  }
  if (auto f = object.get("emergency_waves")) {
    PW_TRY_ASSIGN(std::string waves, r.string(*f));
    if (waves != "policy" && waves != "single") {
      return r.error(*f, "'" + waves + "' is not one of policy, single");
    }
    policy.emergency_single_wave = waves == "single";
  }

  Settings defaults;
  if (auto f = object.get("defaults")) {
    PW_TRY_ASSIGN(Object defaults_object, r.object(*f, kSettingKeys));
    PW_TRY(read_settings(r, defaults_object, defaults));
    Region check;  // emergency waits against the normal ones, before any region overrides
    PW_TRY(resolve(r, defaults, {}, check));
  }

  PW_TRY_ASSIGN(Field regions_field, r.require(object, "regions"));
  PW_TRY_ASSIGN(std::vector<Field> regions, r.list(regions_field));
  if (regions.empty()) return r.error(regions_field, "must list at least one region");
  std::map<std::string, std::size_t> names, backends;
  for (std::size_t i = 0; i < regions.size(); ++i) {
    PW_TRY_ASSIGN(Region region, read_region(r, regions[i], defaults));
    PW_TRY_ASSIGN(Object fields, r.object(regions[i], {}));
    if (auto [it, fresh] = names.emplace(region.name, i); !fresh) {
      return r.error(*fields.get("name"), "'" + region.name + "' is already the name of regions[" +
                                              std::to_string(it->second) + "]");
    }
    if (auto [it, fresh] = backends.emplace(region.backend, i); !fresh) {
      return r.error(*fields.get("backend"), "'" + region.backend +
                                                 "' is already the backend of regions[" +
                                                 std::to_string(it->second) + "]");
    }
    policy.regions.push_back(std::move(region));
  }
  return policy;
}

}  // namespace

Result<Policy> parse_policy(std::string_view yaml_text, std::string_view source_name) {
  try {
    PW_TRY_ASSIGN(Node root, detail::load_yaml(yaml_text, source_name));
    return read_policy(Reader(source_name), root);
  } catch (const std::exception& e) {
    return make_error(Errc::internal, std::string("reading the fleet policy failed: ") + e.what())
        .with_context(std::string(source_name));
  } catch (...) {
    return make_error(Errc::internal, "reading the fleet policy failed")
        .with_context(std::string(source_name));
  }
}

}  // namespace pw::fleet
