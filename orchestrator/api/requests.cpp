#include "orchestrator/api/requests.hpp"

#include <charconv>
#include <optional>

namespace pw::api {
namespace {

Error bad_field(const std::string& field, const std::string& rule) {
  return make_error(Errc::invalid_argument, field + ": " + rule);
}

// An optional string field: `fallback` when absent, an error when of another type.
Result<std::string> optional_string(const json::Value& body, const std::string& field,
                                    const std::string& fallback) {
  auto it = body.find(field);
  if (it == body.end()) return fallback;
  if (!it->is_string()) return bad_field(field, "must be a string");
  return it->get<std::string>();
}

}  // namespace

Result<json::Value> parse_object(std::string_view body, bool empty_is_object) {
  if (body.empty() && empty_is_object) return json::Value::object();
  auto parsed = json::parse(body);
  if (!parsed.ok()) return std::move(parsed).error().with_context("request body");
  if (!parsed->is_object()) {
    return make_error(Errc::parse, "request body: expected a JSON object");
  }
  return parsed;
}

Result<EnrollRequest> enroll_request(const json::Value& body) {
  EnrollRequest out;
  for (auto [field, target] :
       {std::pair{"name", &out.name}, std::pair{"token", &out.token}, std::pair{"csr", &out.csr}}) {
    auto it = body.find(field);
    if (it == body.end() || !it->is_string()) {
      return make_error(Errc::parse, "expected {\"name\", \"token\", \"csr\"}");
    }
    *target = it->get<std::string>();
  }
  return out;
}

Result<ProvisionRequest> provision_request(const json::Value& body) {
  ProvisionRequest out;
  auto region = body.find("region");
  auto count = body.find("count");
  if (region == body.end() || !region->is_string() || count == body.end() ||
      !count->is_number_integer()) {
    return make_error(Errc::invalid_argument, "expected {\"region\", \"count\", \"rollout\"?}");
  }
  out.region = region->get<std::string>();
  // Checked here, before it is narrowed: 2^32 + 1 must not read as 1.
  bool in_range = count->is_number_unsigned()
                      ? count->get<std::uint64_t>() >= 1 && count->get<std::uint64_t>() <= 100
                      : count->get<std::int64_t>() >= 1 && count->get<std::int64_t>() <= 100;
  if (!in_range) return bad_field("count", "must be 1-100");
  out.count = static_cast<int>(count->get<std::int64_t>());
  PW_TRY_ASSIGN(out.rollout, optional_string(body, "rollout", "manual"));
  return out;
}

Result<std::string> decommission_request(const json::Value& body) {
  auto name = body.find("name");
  if (name == body.end() || !name->is_string()) {
    return make_error(Errc::invalid_argument, "expected {\"name\"}");
  }
  return name->get<std::string>();
}

Result<RolloutRequest> rollout_request(const json::Value& body) {
  RolloutRequest out;
  PW_TRY_ASSIGN(out.app, optional_string(body, "app", ""));
  PW_TRY_ASSIGN(out.version, optional_string(body, "version", ""));
  if (auto regions = body.find("regions"); regions != body.end()) {
    if (!regions->is_array()) return bad_field("regions", "must be an array of region names");
    for (const auto& region : *regions) {
      if (!region.is_string()) return bad_field("regions", "must be an array of region names");
      out.regions.push_back(region.get<std::string>());
    }
  }
  if (auto routine = body.find("routine"); routine != body.end()) {
    if (!routine->is_boolean()) return bad_field("routine", "must be true or false");
    out.routine = routine->get<bool>();
  }
  return out;
}

Result<std::string> command_region(const json::Value& body) {
  return optional_string(body, "region", "");
}

std::pair<std::string, std::string> split_target(std::string_view target) {
  auto question = target.find('?');
  if (question == std::string_view::npos) return {std::string(target), ""};
  return {std::string(target.substr(0, question)), std::string(target.substr(question + 1))};
}

namespace {
std::optional<std::string> find_query(std::string_view query, std::string_view name) {
  std::size_t at = 0;
  while (at <= query.size()) {
    auto end = query.find('&', at);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(at, end - at);
    if (pair.size() >= name.size() + 1 && pair.substr(0, name.size()) == name &&
        pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
    at = end + 1;
  }
  return std::nullopt;
}
}  // namespace

std::string query_value(std::string_view query, std::string_view name) {
  return find_query(query, name).value_or("");
}

Result<std::int64_t> audit_from(std::string_view query) {
  std::int64_t from = 1;
  auto found = find_query(query, "from");
  if (!found) return from;
  const std::string& text = *found;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), from);
  if (ec != std::errc() || end != text.data() + text.size() || from < 1) {
    return bad_field("from", "must be a positive integer");
  }
  return from;
}

}  // namespace pw::api
