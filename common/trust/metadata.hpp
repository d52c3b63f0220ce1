// The TUF 1.0 metadata model: the four top-level roles, their envelopes and parsing
// with errors that name the file, field and rule. Parsing checks form only; whether a
// document is trusted is decided by verify.hpp and the client workflow (client.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.hpp"
#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::trust {

enum class Role { root, timestamp, snapshot, targets };
const char* role_name(Role role);

using TimePoint = std::chrono::sys_seconds;

// TUF timestamps: "2030-01-31T12:00:00Z" (UTC, seconds precision, 'Z' suffix).
Result<TimePoint> parse_time(std::string_view text);
std::string format_time(TimePoint time);

// Bytes read from one metadata file. Limits differ per role (see client.hpp).
constexpr std::uint64_t kMaxRootBytes = 512 * 1024;
constexpr std::uint64_t kMaxTimestampBytes = 64 * 1024;
constexpr std::uint64_t kMaxSnapshotBytes = 4 * 1024 * 1024;
constexpr std::uint64_t kMaxTargetsBytes = 16 * 1024 * 1024;

struct Signature {
  std::string keyid;
  std::string sig;  // lowercase hex
};

// A signed document: the "signed" object, the canonical bytes the signatures cover,
// and the fields every role shares.
struct Envelope {
  std::string file;  // for messages: "targets.json"
  json::Value signed_json;
  std::string canonical;
  std::vector<Signature> signatures;
  std::string type;
  std::string spec_version;
  std::uint64_t version = 0;
  TimePoint expires{};
};

// Reads the envelope of a `role` document from raw bytes: JSON limits, "signed" and
// "signatures" present, _type == role, spec_version 1.x, version >= 1, valid expiry.
Result<Envelope> parse_envelope(std::string_view bytes, Role role, std::string_view file);

struct RoleKeys {
  std::vector<std::string> keyids;
  std::uint64_t threshold = 1;
};

struct Root {
  Envelope envelope;
  bool consistent_snapshot = false;
  std::map<std::string, crypto::PublicKey> keys;  // by key id
  std::map<Role, RoleKeys> roles;
};

// A file described by timestamp (snapshot.json) or snapshot (targets.json).
struct MetaFile {
  std::uint64_t version = 0;
  std::optional<std::uint64_t> length;
  std::map<std::string, std::string> hashes;  // algorithm -> lowercase hex
};

struct Timestamp {
  Envelope envelope;
  MetaFile snapshot;
};

struct Snapshot {
  Envelope envelope;
  std::map<std::string, MetaFile> meta;  // "targets.json" -> ...
};

struct TargetFile {
  std::uint64_t length = 0;
  std::map<std::string, std::string> hashes;
  json::Value custom;  // null when absent
};

struct Targets {
  Envelope envelope;
  std::map<std::string, TargetFile> targets;  // by target path
  bool has_delegations = false;               // delegated roles are not followed yet
};

Result<Root> parse_root(std::string_view bytes, std::string_view file);
Result<Timestamp> parse_timestamp(std::string_view bytes, std::string_view file);
Result<Snapshot> parse_snapshot(std::string_view bytes, std::string_view file);
Result<Targets> parse_targets(std::string_view bytes, std::string_view file);

// Parts shared with authoring.
Result<MetaFile> parse_meta_file(const json::Value& value, std::string_view where);
Result<TargetFile> parse_target_file(const json::Value& value, std::string_view where);
json::Value meta_file_json(const MetaFile& meta);

}  // namespace pw::trust
