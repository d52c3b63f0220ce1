// Limits from a target's custom object, and names of entry types.
#include <cstdint>
#include <string>

#include "common/archive/archive.hpp"

namespace pw::archive {
namespace {

struct LimitField {
  const char* name;
  std::uint64_t Limits::*member;
  std::uint64_t max;
};

// Paths are opened relative to the release directory, so a path may use all of
// PATH_MAX (4096 with its NUL) and a component all of NAME_MAX.
constexpr LimitField kFields[] = {
    {"max_total_bytes", &Limits::max_total_bytes, UINT64_MAX},
    {"max_entries", &Limits::max_entries, UINT64_MAX},
    {"max_path_bytes", &Limits::max_path_bytes, 4095},
    {"max_component_bytes", &Limits::max_component_bytes, 255},
    {"max_ratio", &Limits::max_ratio, UINT64_MAX},
};

constexpr const char* kWhere = "custom.archive_limits";

}  // namespace

const char* entry_type_name(EntryType type) {
  switch (type) {
    case EntryType::file:
      return "file";
    case EntryType::directory:
      return "directory";
    case EntryType::symlink:
      return "symlink";
    case EntryType::hardlink:
      return "hardlink";
  }
  return "unknown";
}

// Unknown fields are refused rather than ignored: a misspelt limit would otherwise
// silently keep the default, and an agent older than a new limit fails closed.
Result<Limits> limits_from_custom(const json::Value& custom, const Limits& defaults) {
  Limits limits = defaults;
  if (custom.is_null()) return limits;
  if (!custom.is_object()) return make_error(Errc::parse, "custom: expected an object");
  auto it = custom.find("archive_limits");
  if (it == custom.end() || it->is_null()) return limits;
  if (!it->is_object()) {
    return make_error(Errc::parse, "custom: field 'archive_limits': expected an object");
  }
  for (const auto& item : it->items()) {
    const LimitField* field = nullptr;
    for (const auto& candidate : kFields) {
      if (item.key() == candidate.name) field = &candidate;
    }
    if (field == nullptr) {
      return make_error(Errc::parse, std::string(kWhere) + ": unknown field '" + item.key() +
                                         "' (known: max_total_bytes, max_entries, max_path_bytes, "
                                         "max_component_bytes, max_ratio)");
    }
    PW_TRY_ASSIGN(std::uint64_t value, json::get_uint(*it, field->name, kWhere));
    if (value == 0 || value > field->max) {
      return make_error(Errc::parse, std::string(kWhere) + ": field '" + field->name +
                                         "': must be between 1 and " + std::to_string(field->max));
    }
    limits.*(field->member) = value;
  }
  return limits;
}

}  // namespace pw::archive
