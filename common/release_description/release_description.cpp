#include "common/release_description/release_description.hpp"

#include <cctype>
#include <sstream>

namespace pw::release {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool identifier_chars(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t pos = s.find(sep, start);
    parts.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

Result<std::uint64_t> parse_number(std::string_view s) {
  if (!all_digits(s) || (s.size() > 1 && s[0] == '0') || s.size() > 19) {
    return make_error(Errc::parse,
                      "'" + std::string(s) + "' is not a number without leading zeros");
  }
  return std::stoull(std::string(s));
}

Error field_error(std::string_view where, const std::string& field, const std::string& rule) {
  return make_error(Errc::parse, std::string(where) + ": field '" + field + "': " + rule);
}

Result<std::vector<std::string>> string_array(const json::Value& v, std::string_view where,
                                              const std::string& field, bool non_empty) {
  if (!v.is_array()) return field_error(where, field, "expected an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string()) return field_error(where, field, "expected an array of strings");
    out.push_back(item.get<std::string>());
  }
  if (non_empty && out.empty()) return field_error(where, field, "must not be empty");
  return out;
}

Result<std::uint64_t> optional_uint(const json::Value& object, const char* name,
                                    std::string_view where, std::uint64_t fallback,
                                    std::uint64_t min, std::uint64_t max) {
  if (!object.contains(name)) return fallback;
  PW_TRY_ASSIGN(std::uint64_t v, json::get_uint(object, name, where));
  if (v < min || v > max) {
    return field_error(where, name,
                       "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

Result<HealthCheck> health_from_json(const json::Value& h, std::string_view where) {
  HealthCheck check;
  PW_TRY_ASSIGN(std::string kind, json::get_string(h, "kind", where));
  if (kind == "http" || kind == "tcp") {
    check.kind = kind == "http" ? HealthCheck::Kind::http : HealthCheck::Kind::tcp;
    PW_TRY_ASSIGN(std::uint64_t port, json::get_uint(h, "port", where));
    if (port < 1 || port > 65535) return field_error(where, "port", "must be 1..65535");
    check.port = static_cast<std::uint16_t>(port);
    if (check.kind == HealthCheck::Kind::http) {
      PW_TRY_ASSIGN(check.path, json::get_string(h, "path", where));
      if (check.path.empty() || check.path[0] != '/') {
        return field_error(where, "path", "must start with '/'");
      }
    }
  } else if (kind == "command") {
    PW_TRY_ASSIGN(const json::Value* argv, json::field(h, "argv", where));
    PW_TRY_ASSIGN(check.argv, string_array(*argv, where, "argv", true));
  } else {
    return field_error(where, "kind", "'" + kind + "' is not one of http, tcp, command");
  }
  PW_TRY_ASSIGN(check.interval_ms, optional_uint(h, "interval_ms", where, 1000, 10, 3600000));
  PW_TRY_ASSIGN(check.timeout_ms, optional_uint(h, "timeout_ms", where, 1000, 10, 3600000));
  PW_TRY_ASSIGN(check.successes, optional_uint(h, "successes", where, 3, 1, 1000));
  return check;
}

}  // namespace

Result<SemVer> SemVer::parse(std::string_view text) {
  SemVer v;
  v.text = std::string(text);
  auto fail = [&](const std::string& why) {
    return make_error(Errc::parse, "'" + std::string(text) + "' is not a semantic version (" + why +
                                       "); expected MAJOR.MINOR.PATCH[-PRE][+BUILD]");
  };
  std::string_view rest = text;
  if (auto plus = rest.find('+'); plus != std::string_view::npos) {
    v.build = std::string(rest.substr(plus + 1));
    for (const auto& part : split(v.build, '.')) {
      if (!identifier_chars(part)) return fail("bad build metadata");
    }
    rest = rest.substr(0, plus);
  }
  if (auto dash = rest.find('-'); dash != std::string_view::npos) {
    for (const auto& part : split(rest.substr(dash + 1), '.')) {
      if (!identifier_chars(part)) return fail("bad pre-release identifier");
      if (all_digits(part) && part.size() > 1 && part[0] == '0') {
        return fail("numeric pre-release identifier with a leading zero");
      }
      v.prerelease.push_back(part);
    }
    rest = rest.substr(0, dash);
  }
  auto core = split(rest, '.');
  if (core.size() != 3) return fail("three numbers are needed");
  std::uint64_t* fields[] = {&v.major, &v.minor, &v.patch};
  for (std::size_t i = 0; i < 3; ++i) {
    auto n = parse_number(core[i]);
    if (!n.ok()) return fail(n.error().message);
    *fields[i] = *n;
  }
  return v;
}

std::strong_ordering SemVer::operator<=>(const SemVer& other) const {
  if (auto c = major <=> other.major; c != 0) return c;
  if (auto c = minor <=> other.minor; c != 0) return c;
  if (auto c = patch <=> other.patch; c != 0) return c;
  // A version without pre-release ranks above one with it.
  if (prerelease.empty() || other.prerelease.empty()) {
    return prerelease.empty() <=> other.prerelease.empty();
  }
  for (std::size_t i = 0; i < prerelease.size() && i < other.prerelease.size(); ++i) {
    const auto& a = prerelease[i];
    const auto& b = other.prerelease[i];
    bool an = all_digits(a), bn = all_digits(b);
    if (an && bn) {
      if (auto c = std::stoull(a) <=> std::stoull(b); c != 0) return c;
    } else if (an != bn) {
      return an ? std::strong_ordering::less : std::strong_ordering::greater;
    } else if (auto c = a.compare(b) <=> 0; c != 0) {
      return c;
    }
  }
  return prerelease.size() <=> other.prerelease.size();
}

const char* urgency_name(Urgency urgency) {
  return urgency == Urgency::emergency ? "emergency" : "routine";
}

Result<Urgency> parse_urgency(std::string_view text) {
  if (text == "routine") return Urgency::routine;
  if (text == "emergency") return Urgency::emergency;
  return make_error(Errc::parse,
                    "urgency '" + std::string(text) + "' is not one of routine, emergency");
}

const char* health_kind_name(HealthCheck::Kind kind) {
  switch (kind) {
    case HealthCheck::Kind::http:
      return "http";
    case HealthCheck::Kind::tcp:
      return "tcp";
    case HealthCheck::Kind::command:
      return "command";
  }
  return "unknown";
}

Result<HealthCheck> parse_health_shorthand(std::string_view text) {
  auto fail = [&] {
    return make_error(Errc::parse, "health check '" + std::string(text) +
                                       "' is not http:PORT/PATH, tcp:PORT or command:ARGV");
  };
  HealthCheck check;
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return fail();
  std::string_view kind = text.substr(0, colon);
  std::string_view rest = text.substr(colon + 1);
  if (kind == "command") {
    check.kind = HealthCheck::Kind::command;
    std::istringstream words{std::string(rest)};
    for (std::string word; words >> word;) check.argv.push_back(word);
    if (check.argv.empty()) return fail();
    return check;
  }
  if (kind != "http" && kind != "tcp") return fail();
  check.kind = kind == "http" ? HealthCheck::Kind::http : HealthCheck::Kind::tcp;
  auto slash = rest.find('/');
  std::string_view port_text = rest.substr(0, slash);
  auto port = parse_number(port_text);
  if (!port.ok() || *port < 1 || *port > 65535) return fail();
  check.port = static_cast<std::uint16_t>(*port);
  if (check.kind == HealthCheck::Kind::http) {
    if (slash == std::string_view::npos) return fail();
    check.path = std::string(rest.substr(slash));
  } else if (slash != std::string_view::npos) {
    return fail();
  }
  return check;
}

Status check_app_name(std::string_view app) {
  bool ok = !app.empty() && app.size() <= 64 &&
            (std::islower(static_cast<unsigned char>(app[0])) ||
             std::isdigit(static_cast<unsigned char>(app[0])));
  for (char c : app) {
    ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return make_error(Errc::parse,
                      "app name '" + std::string(app) + "' must match [a-z0-9][a-z0-9._-]{0,63}");
  }
  return Ok{};
}

Status check_cve_id(std::string_view cve) {
  auto parts = split(cve, '-');
  if (parts.size() != 3 || parts[0] != "CVE" || parts[1].size() != 4 || !all_digits(parts[1]) ||
      parts[2].size() < 4 || parts[2].size() > 19 || !all_digits(parts[2])) {
    return make_error(Errc::parse,
                      "'" + std::string(cve) + "' is not a CVE id of the form CVE-YYYY-NNNN");
  }
  return Ok{};
}

Result<ReleaseDescription> from_json(const json::Value& r, std::string_view where) {
  ReleaseDescription release;
  PW_TRY_ASSIGN(release.app, json::get_string(r, "app", where));
  auto app_ok = check_app_name(release.app);
  if (!app_ok.ok()) return field_error(where, "app", app_ok.error().message);

  PW_TRY_ASSIGN(std::string version, json::get_string(r, "version", where));
  auto semver = SemVer::parse(version);
  if (!semver.ok()) return field_error(where, "version", semver.error().message);
  release.version = *semver;

  if (r.contains("cves")) {
    PW_TRY_ASSIGN(release.cves, string_array(r["cves"], where, "cves", false));
    for (const auto& cve : release.cves) {
      auto ok = check_cve_id(cve);
      if (!ok.ok()) return field_error(where, "cves", ok.error().message);
    }
  }
  PW_TRY_ASSIGN(std::string urgency, json::get_string(r, "urgency", where));
  auto parsed = parse_urgency(urgency);
  if (!parsed.ok()) return field_error(where, "urgency", parsed.error().message);
  release.urgency = *parsed;

  std::string run_where = std::string(where) + ".run";
  PW_TRY_ASSIGN(const json::Value* run, json::get_object(r, "run", where));
  PW_TRY_ASSIGN(const json::Value* argv, json::field(*run, "argv", run_where));
  PW_TRY_ASSIGN(release.run.argv, string_array(*argv, run_where, "argv", true));
  if (release.run.argv[0].empty() || release.run.argv[0][0] == '/' ||
      release.run.argv[0].find("..") != std::string::npos) {
    return field_error(run_where, "argv",
                       "argv[0] must be a path inside the release directory, without '..'");
  }
  if (run->contains("env")) {
    const json::Value& env = (*run)["env"];
    if (!env.is_object()) return field_error(run_where, "env", "expected an object of strings");
    for (const auto& [key, value] : env.items()) {
      if (!value.is_string() || key.empty() || key.find('=') != std::string::npos) {
        return field_error(run_where, "env", "entry '" + key + "' must be NAME: \"value\"");
      }
      release.run.env.emplace(key, value.get<std::string>());
    }
  }
  PW_TRY_ASSIGN(const json::Value* health, json::get_object(r, "health", where));
  PW_TRY_ASSIGN(release.health, health_from_json(*health, std::string(where) + ".health"));
  return release;
}

Result<std::optional<ReleaseDescription>> from_custom(const json::Value& custom,
                                                      std::string_view target) {
  if (!custom.is_object() || !custom.contains("release")) {
    return std::optional<ReleaseDescription>{};
  }
  std::string where = "target '" + std::string(target) + "' custom.release";
  PW_TRY_ASSIGN(ReleaseDescription release, from_json(custom["release"], where));
  return std::optional<ReleaseDescription>{std::move(release)};
}

json::Value to_json(const ReleaseDescription& release) {
  json::Value health = {{"kind", health_kind_name(release.health.kind)},
                        {"interval_ms", release.health.interval_ms},
                        {"timeout_ms", release.health.timeout_ms},
                        {"successes", release.health.successes}};
  if (release.health.kind == HealthCheck::Kind::command) {
    health["argv"] = release.health.argv;
  } else {
    health["port"] = release.health.port;
    if (release.health.kind == HealthCheck::Kind::http) health["path"] = release.health.path;
  }
  json::Value run = {{"argv", release.run.argv}};
  if (!release.run.env.empty()) run["env"] = release.run.env;
  return json::Value{{"app", release.app},   {"version", release.version.text},
                     {"cves", release.cves}, {"urgency", urgency_name(release.urgency)},
                     {"run", run},           {"health", health}};
}

}  // namespace pw::release
