#include "common/trust/metadata.hpp"

#include <cctype>
#include <cstdio>
#include <set>

namespace pw::trust {
namespace {

bool is_lower_hex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

Error at(std::string_view file, Error error) {
  return std::move(error).with_context(std::string(file));
}

Result<std::map<std::string, std::string>> parse_hashes(const json::Value& parent,
                                                        std::string_view where, bool required) {
  std::map<std::string, std::string> hashes;
  auto it = parent.find("hashes");
  if (it == parent.end()) {
    if (required) return make_error(Errc::parse, std::string(where) + ": field 'hashes': missing");
    return hashes;
  }
  if (!it->is_object() || it->empty()) {
    return make_error(Errc::parse,
                      std::string(where) + ": field 'hashes': expected a non-empty object");
  }
  for (const auto& [algorithm, digest] : it->items()) {
    if (!digest.is_string() || !is_lower_hex(digest.get_ref<const std::string&>())) {
      return make_error(Errc::parse, std::string(where) + ": hashes." + algorithm +
                                         ": expected a lowercase hex string");
    }
    hashes.emplace(algorithm, digest.get<std::string>());
  }
  return hashes;
}

Result<std::uint64_t> parse_threshold(const json::Value& role, std::string_view where) {
  PW_TRY_ASSIGN(std::uint64_t threshold, json::get_uint(role, "threshold", where));
  if (threshold < 1) {
    return make_error(Errc::parse, std::string(where) + ": field 'threshold': must be at least 1");
  }
  return threshold;
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::root:
      return "root";
    case Role::timestamp:
      return "timestamp";
    case Role::snapshot:
      return "snapshot";
    case Role::targets:
      return "targets";
  }
  return "unknown";
}

Result<TimePoint> parse_time(std::string_view text) {
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  int consumed = 0;
  std::string copy(text);
  if (copy.size() != 20 ||
      std::sscanf(copy.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%c%n", &y, &mo, &d, &h, &mi, &s, &z,
                  &consumed) != 7 ||
      consumed != 20 || z != 'Z') {
    return make_error(Errc::parse,
                      "'" + copy + "' is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ");
  }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{mo},
                                  std::chrono::day{d}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) {
    return make_error(Errc::parse, "'" + copy + "' is not a valid date and time");
  }
  return TimePoint{std::chrono::sys_days{ymd}} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{s};
}

std::string format_time(TimePoint time) {
  auto days = std::chrono::floor<std::chrono::days>(time);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss hms{time - days};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buffer;
}

Result<Envelope> parse_envelope(std::string_view bytes, Role role, std::string_view file) {
  Envelope env;
  env.file = std::string(file);
  auto doc = json::parse(bytes);
  if (!doc.ok()) return at(file, std::move(doc).error());
  if (!doc->is_object()) return at(file, make_error(Errc::parse, "expected a JSON object"));
  for (const auto& [key, unused] : doc->items()) {
    if (key != "signed" && key != "signatures") {
      return at(file, make_error(Errc::parse, "unexpected top-level field '" + key + "'"));
    }
  }
  auto sigs = json::get_array(*doc, "signatures", "");
  if (!sigs.ok()) return at(file, std::move(sigs).error());
  std::size_t index = 0;
  for (const auto& sig : **sigs) {
    std::string where = "signatures[" + std::to_string(index++) + "]";
    auto keyid = json::get_string(sig, "keyid", where);
    if (!keyid.ok()) return at(file, std::move(keyid).error());
    auto value = json::get_string(sig, "sig", where);
    if (!value.ok()) return at(file, std::move(value).error());
    env.signatures.push_back({*keyid, *value});
  }
  auto signed_obj = json::get_object(*doc, "signed", "");
  if (!signed_obj.ok()) return at(file, std::move(signed_obj).error());
  env.signed_json = **signed_obj;
  auto canonical = json::canonical(env.signed_json);
  if (!canonical.ok()) return at(file, std::move(canonical).error());
  env.canonical = std::move(*canonical);

  const json::Value& s = env.signed_json;
  auto type = json::get_string(s, "_type", "signed");
  if (!type.ok()) return at(file, std::move(type).error());
  env.type = *type;
  if (env.type != role_name(role)) {
    return at(file, make_error(Errc::mismatch, "signed._type is '" + env.type + "', expected '" +
                                                   role_name(role) + "'"));
  }
  auto spec = json::get_string(s, "spec_version", "signed");
  if (!spec.ok()) return at(file, std::move(spec).error());
  env.spec_version = *spec;
  if (env.spec_version.rfind("1.", 0) != 0) {
    return at(file, make_error(Errc::unsupported, "spec_version '" + env.spec_version +
                                                      "' is not 1.x, the version we implement"));
  }
  auto version = json::get_uint(s, "version", "signed");
  if (!version.ok()) return at(file, std::move(version).error());
  if (*version < 1) return at(file, make_error(Errc::parse, "signed.version must be at least 1"));
  env.version = *version;
  auto expires_text = json::get_string(s, "expires", "signed");
  if (!expires_text.ok()) return at(file, std::move(expires_text).error());
  auto expires = parse_time(*expires_text);
  if (!expires.ok()) {
    return at(file, std::move(expires).error().with_context("signed.expires"));
  }
  env.expires = *expires;
  return env;
}

Result<Root> parse_root(std::string_view bytes, std::string_view file) {
  Root root;
  PW_TRY_ASSIGN(root.envelope, parse_envelope(bytes, Role::root, file));
  const json::Value& s = root.envelope.signed_json;
  auto consistent = json::get_bool(s, "consistent_snapshot", "signed");
  if (!consistent.ok()) return at(file, std::move(consistent).error());
  root.consistent_snapshot = *consistent;

  auto keys = json::get_object(s, "keys", "signed");
  if (!keys.ok()) return at(file, std::move(keys).error());
  for (const auto& [keyid, key_json] : (*keys)->items()) {
    auto key = crypto::PublicKey::from_json(key_json);
    if (!key.ok()) return at(file, std::move(key).error().with_context("signed.keys." + keyid));
    if (key->keyid() != keyid) {
      return at(file, make_error(Errc::mismatch,
                                 "signed.keys." + keyid +
                                     ": key id is not the sha256 of the key's canonical JSON "
                                     "(expected " +
                                     key->keyid() + ")"));
    }
    root.keys.emplace(keyid, std::move(*key));
  }

  auto roles = json::get_object(s, "roles", "signed");
  if (!roles.ok()) return at(file, std::move(roles).error());
  for (Role role : {Role::root, Role::timestamp, Role::snapshot, Role::targets}) {
    std::string where = std::string("signed.roles.") + role_name(role);
    auto role_json = json::get_object(**roles, role_name(role), "signed.roles");
    if (!role_json.ok()) return at(file, std::move(role_json).error());
    RoleKeys spec;
    auto threshold = parse_threshold(**role_json, where);
    if (!threshold.ok()) return at(file, std::move(threshold).error());
    spec.threshold = *threshold;
    auto keyids = json::get_array(**role_json, "keyids", where);
    if (!keyids.ok()) return at(file, std::move(keyids).error());
    std::set<std::string> seen;
    for (const auto& id : **keyids) {
      if (!id.is_string()) {
        return at(file, make_error(Errc::parse, where + ".keyids: expected strings"));
      }
      const auto& keyid = id.get_ref<const std::string&>();
      if (!seen.insert(keyid).second) {
        return at(file,
                  make_error(Errc::parse, where + ".keyids: key id " + keyid + " is listed twice"));
      }
      if (root.keys.count(keyid) == 0) {
        return at(file, make_error(Errc::parse,
                                   where + ".keyids: key id " + keyid + " is not in signed.keys"));
      }
      spec.keyids.push_back(keyid);
    }
    root.roles.emplace(role, std::move(spec));
  }
  return root;
}

Result<MetaFile> parse_meta_file(const json::Value& value, std::string_view where) {
  MetaFile meta;
  PW_TRY_ASSIGN(meta.version, json::get_uint(value, "version", where));
  if (meta.version < 1) {
    return make_error(Errc::parse, std::string(where) + ": field 'version': must be at least 1");
  }
  if (value.contains("length")) {
    PW_TRY_ASSIGN(meta.length, json::get_uint(value, "length", where));
  }
  PW_TRY_ASSIGN(meta.hashes, parse_hashes(value, where, /*required=*/false));
  return meta;
}

json::Value meta_file_json(const MetaFile& meta) {
  json::Value out = {{"version", meta.version}};
  if (meta.length) out["length"] = *meta.length;
  if (!meta.hashes.empty()) out["hashes"] = meta.hashes;
  return out;
}

Result<Timestamp> parse_timestamp(std::string_view bytes, std::string_view file) {
  Timestamp ts;
  PW_TRY_ASSIGN(ts.envelope, parse_envelope(bytes, Role::timestamp, file));
  auto meta = json::get_object(ts.envelope.signed_json, "meta", "signed");
  if (!meta.ok()) return at(file, std::move(meta).error());
  if ((*meta)->size() != 1 || !(*meta)->contains("snapshot.json")) {
    return at(file, make_error(Errc::parse, "signed.meta must describe exactly snapshot.json"));
  }
  auto snapshot = parse_meta_file((**meta)["snapshot.json"], "signed.meta.snapshot.json");
  if (!snapshot.ok()) return at(file, std::move(snapshot).error());
  ts.snapshot = *snapshot;
  return ts;
}

Result<Snapshot> parse_snapshot(std::string_view bytes, std::string_view file) {
  Snapshot snap;
  PW_TRY_ASSIGN(snap.envelope, parse_envelope(bytes, Role::snapshot, file));
  auto meta = json::get_object(snap.envelope.signed_json, "meta", "signed");
  if (!meta.ok()) return at(file, std::move(meta).error());
  for (const auto& [name, value] : (*meta)->items()) {
    auto entry = parse_meta_file(value, "signed.meta." + name);
    if (!entry.ok()) return at(file, std::move(entry).error());
    snap.meta.emplace(name, *entry);
  }
  return snap;
}

Result<TargetFile> parse_target_file(const json::Value& value, std::string_view where) {
  TargetFile target;
  PW_TRY_ASSIGN(target.length, json::get_uint(value, "length", where));
  PW_TRY_ASSIGN(target.hashes, parse_hashes(value, where, /*required=*/true));
  auto custom = value.find("custom");
  if (custom != value.end()) {
    if (!custom->is_object()) {
      return make_error(Errc::parse, std::string(where) + ": field 'custom': expected an object");
    }
    target.custom = *custom;
  }
  return target;
}

Result<Targets> parse_targets(std::string_view bytes, std::string_view file) {
  Targets targets;
  PW_TRY_ASSIGN(targets.envelope, parse_envelope(bytes, Role::targets, file));
  const json::Value& s = targets.envelope.signed_json;
  auto list = json::get_object(s, "targets", "signed");
  if (!list.ok()) return at(file, std::move(list).error());
  for (const auto& [path, value] : (*list)->items()) {
    auto entry = parse_target_file(value, "signed.targets." + path);
    if (!entry.ok()) return at(file, std::move(entry).error());
    targets.targets.emplace(path, std::move(*entry));
  }
  auto delegations = s.find("delegations");
  targets.has_delegations = delegations != s.end() && delegations->is_object() &&
                            delegations->contains("roles") && !(*delegations)["roles"].empty();
  return targets;
}

}  // namespace pw::trust
