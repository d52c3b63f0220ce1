#include "orchestrator/controller/sync.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log/log.hpp"
#include "common/release_description/release_description.hpp"
#include "common/trust/metadata.hpp"
#include "orchestrator/fleet/policy.hpp"
#include "orchestrator/source/source.hpp"
#include "orchestrator/source/trust_source.hpp"

namespace pw::controller {
namespace fs = std::filesystem;

namespace {
const std::string kCountersignatureDir = "countersignatures/";
}  // namespace

std::string current_fleet_target(const std::map<std::string, trust::TargetFile>& targets,
                                 const std::string& prefix) {
  std::string best;
  unsigned long best_version = 0;
  for (const auto& [name, info] : targets) {
    unsigned long version = 0;
    if (name == prefix + ".yaml") {
      version = 1;
    } else if (name.rfind(prefix + "-", 0) == 0 && name.size() > prefix.size() + 6 &&
               name.compare(name.size() - 5, 5, ".yaml") == 0) {
      std::string digits = name.substr(prefix.size() + 1, name.size() - prefix.size() - 6);
      if (digits.empty() || digits.size() > 9 ||
          digits.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      version = std::stoul(digits);
    } else {
      continue;
    }
    if (version > best_version) {
      best_version = version;
      best = name;
    }
  }
  return best;
}

Result<std::optional<std::string>> StoreTrustedStore::load(const std::string& role) {
  PW_TRY_ASSIGN(store::Statement query,
                db_->prepare("SELECT bytes FROM trusted_metadata WHERE role = ?1"));
  query.bind(1, role);
  PW_TRY_ASSIGN(bool row, query.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(query.text(0));
}

Status StoreTrustedStore::save(const std::string& role, std::string_view bytes) {
  PW_TRY_ASSIGN(store::Statement upsert,
                db_->prepare("INSERT INTO trusted_metadata (role, bytes, updated_at) VALUES (?1, "
                             "?2, ?3) ON CONFLICT(role) DO UPDATE SET bytes = excluded.bytes, "
                             "updated_at = excluded.updated_at"));
  upsert.bind(1, role).bind(2, bytes).bind(3, log::now_rfc3339());
  return upsert.run();
}

Status StoreTrustedStore::remove(const std::string& role) {
  PW_TRY_ASSIGN(store::Statement erase,
                db_->prepare("DELETE FROM trusted_metadata WHERE role = ?1"));
  erase.bind(1, role);
  return erase.run();
}

namespace {

// Records every metadata file the client read successfully: the bundle agents get.
class RecordingSource final : public trust::MetadataSource {
 public:
  explicit RecordingSource(trust::MetadataSource& inner) : inner_(&inner) {}
  Result<std::string> read(const std::string& path, std::uint64_t max_bytes) override {
    auto bytes = inner_->read(path, max_bytes);
    const std::string prefix = "metadata/";
    if (bytes.ok() && path.rfind(prefix, 0) == 0) files[path.substr(prefix.size())] = *bytes;
    return bytes;
  }
  Status stream(const std::string& path, std::uint64_t max_bytes,
                const std::function<Status(std::string_view)>& sink) override {
    return inner_->stream(path, max_bytes, sink);
  }
  std::map<std::string, std::string> files;

 private:
  trust::MetadataSource* inner_;
};

Result<std::string> read_root(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, path + ": cannot open the pinned root");
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > trust::kMaxRootBytes)
    return make_error(Errc::limit, path + ": too large");
  return text.str();
}

// Streams a verified target into artifacts/<sha256> (temp file, fsync, rename).
Status store_artifact(trust::Client& client, trust::MetadataSource& source, const std::string& name,
                      const std::string& sha256, const std::string& dir) {
  std::string final_path = dir + "/" + sha256;
  if (fs::exists(final_path)) return Ok{};
  std::string temp = dir + "/.incoming-" + sha256;
  std::FILE* out = std::fopen(temp.c_str(), "wb");
  if (out == nullptr) return make_error(Errc::io, temp + ": cannot create");
  auto verified = client.verify_target(source, name, [&](std::string_view chunk) -> Status {
    if (std::fwrite(chunk.data(), 1, chunk.size(), out) != chunk.size()) {
      return make_error(Errc::io, temp + ": write failed");
    }
    return Ok{};
  });
  bool flushed = std::fflush(out) == 0 && ::fsync(fileno(out)) == 0;
  std::fclose(out);
  if (!verified.ok() || !flushed) {
    fs::remove(temp);
    if (!verified.ok()) return std::move(verified).error();
    return make_error(Errc::io, temp + ": cannot flush");
  }
  fs::rename(temp, final_path);
  return Ok{};
}

Status record(store::Store& store, const std::string& revision, const json::Value& targets,
              const json::Value& metadata, const json::Value& fleet) {
  PW_TRY_ASSIGN(
      store::Statement upsert,
      store.db().prepare(
          "INSERT INTO sync_state (id, source, revision, targets, synced_at, bundle, fleet) "
          "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET source = "
          "excluded.source, revision = excluded.revision, targets = excluded.targets, "
          "synced_at = excluded.synced_at, bundle = excluded.bundle, "
          "fleet = excluded.fleet"));
  upsert.bind(1, "manifests")
      .bind(2, revision)
      .bind(3, targets.dump())
      .bind(4, log::now_rfc3339())
      .bind(5, metadata.dump())
      .bind(6, fleet.dump());
  return upsert.run();
}

Result<json::Value> read_fleet(trust::Client& client, trust::MetadataSource& source,
                               const std::string& prefix) {
  std::string name = current_fleet_target(client.targets()->targets, prefix);
  if (name.empty()) return json::Value();
  std::string text;
  PW_TRY(client.verify_target(source, name, [&](std::string_view chunk) -> Status {
    if (text.size() + chunk.size() > (1u << 20)) {
      return make_error(Errc::limit, name + ": a fleet policy may be at most 1 MiB");
    }
    text.append(chunk);
    return Ok{};
  }));
  PW_TRY_ASSIGN(auto policy, fleet::parse_policy(text, name));
  // The verified text too: the rollout engine parses it again into the typed policy.
  json::Value out = policy.to_json();
  out["source"] = {{"target", name}, {"yaml", text}};
  return out;
}

Result<SyncResult> run_sync(store::Store& store, const std::string& repository,
                            const std::string& pinned_root_file, const std::string& artifacts_dir,
                            const std::string& fleet_target) {
  PW_TRY_ASSIGN(std::string pinned, read_root(pinned_root_file));
  PW_TRY_ASSIGN(auto reader, source::open_reader(repository));
  source::TrustSource source(*reader);
  RecordingSource recording(source);
  StoreTrustedStore trusted(store.db());
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  PW_TRY_ASSIGN(trust::Client client, trust::Client::create(pinned, trusted, {now}));
  PW_TRY(client.refresh(recording));
  std::error_code ec;
  fs::create_directories(artifacts_dir, ec);
  SyncResult result;
  result.revision = reader->revision();
  json::Value targets = json::Value::object();
  for (const auto& [name, info] : client.targets()->targets) {
    ++result.targets;
    json::Value entry = {{"length", info.length}, {"hashes", info.hashes}};
    PW_TRY_ASSIGN(auto description, release::from_custom(info.custom, name));
    auto sha = info.hashes.find("sha256");
    if (description && sha != info.hashes.end()) {
      entry["release"] = release::to_json(*description);
      PW_TRY(store_artifact(client, source, name, sha->second, artifacts_dir));
      ++result.releases;
      if (description->urgency == release::Urgency::emergency) {
        // The security officers' countersignatures sit beside the signed metadata; they
        // are checked against the policy's officer keys when a rollout starts.
        auto countersigned = reader->read(kCountersignatureDir + name + ".json", 64u << 10);
        if (countersigned.ok()) entry["countersignature"] = *countersigned;
      }
    }
    targets[name] = entry;
  }
  PW_TRY_ASSIGN(json::Value fleet, read_fleet(client, source, fleet_target));
  result.fleet_policy = !fleet.is_null();
  json::Value metadata = json::Value::object();
  for (const auto& [file, bytes] : recording.files) metadata[file] = bytes;
  PW_TRY(record(store, result.revision, targets, metadata, fleet));
  return result;
}

}  // namespace

Result<SyncResult> sync(store::Store& store, const std::string& repository,
                        const std::string& pinned_root_file, const std::string& artifacts_dir,
                        const std::string& actor, const std::string& fleet_target) {
  auto result = run_sync(store, repository, pinned_root_file, artifacts_dir, fleet_target);
  if (!result.ok()) {
    PW_TRY(store.audit().append(
        {actor, "sync", {{"repository", repository}}, "refused: " + result.error().to_string()}));
    return std::move(result).error().with_context("sync " + repository);
  }
  PW_TRY(store.audit().append({actor,
                               "sync",
                               {{"repository", repository},
                                {"revision", result->revision},
                                {"targets", result->targets},
                                {"releases", result->releases},
                                {"fleet_policy", result->fleet_policy}},
                               "ok"}));
  return result;
}

Result<std::string> last_fleet_text(store::Store& store) {
  PW_TRY_ASSIGN(store::Statement query,
                store.db().prepare("SELECT fleet FROM sync_state WHERE id = 1"));
  PW_TRY_ASSIGN(bool row, query.step());
  return row ? query.text(0) : std::string("null");
}

Result<std::string> last_sync_mark(store::Store& store) {
  PW_TRY_ASSIGN(store::Statement query,
                store.db().prepare("SELECT revision, synced_at FROM sync_state WHERE id = 1"));
  PW_TRY_ASSIGN(bool row, query.step());
  return row ? query.text(0) + " " + query.text(1) : std::string();
}

Result<json::Value> last_sync(store::Store& store) {
  PW_TRY_ASSIGN(store::Statement query,
                store.db().prepare("SELECT revision, synced_at, targets, bundle, fleet FROM "
                                   "sync_state WHERE id = 1"));
  PW_TRY_ASSIGN(bool row, query.step());
  if (!row) return json::Value();
  PW_TRY_ASSIGN(json::Value targets, json::parse(query.text(2)));
  json::ParseLimits big;
  big.max_bytes = 64u << 20;
  big.allow_floats = true;  // the policy's max_error_rate; this JSON is never signed
  PW_TRY_ASSIGN(json::Value metadata, json::parse(query.text(3), big));
  PW_TRY_ASSIGN(json::Value fleet, json::parse(query.text(4), big));
  return json::Value{{"revision", query.text(0)},
                     {"synced_at", query.text(1)},
                     {"targets", targets},
                     {"metadata", metadata},
                     {"fleet", fleet}};
}

Status check_unexpired(const json::Value& last, std::chrono::system_clock::time_point now) {
  const json::Value& files = last.value("metadata", json::Value::object());
  for (const char* file : {"timestamp.json", "snapshot.json", "targets.json"}) {
    if (!files.contains(file) || !files[file].is_string()) continue;
    auto doc = json::parse(files[file].get<std::string>());
    if (!doc.ok()) return std::move(doc).error().with_context(file);
    if (!doc->is_object() || !(*doc).contains("signed") || !(*doc)["signed"].is_object()) {
      return make_error(Errc::parse, std::string(file) + ": no 'signed' object");
    }
    auto expires_text = json::get_string((*doc)["signed"], "expires", "signed");
    if (!expires_text.ok()) return std::move(expires_text).error().with_context(file);
    PW_TRY_ASSIGN(auto expires, trust::parse_time(*expires_text));
    if (expires <= now) {
      return make_error(Errc::conflict,
                        std::string(file) + ": the verified metadata expired at " + *expires_text +
                            "; publish fresh metadata (patchwave release publish) and sync "
                            "before starting a rollout");
    }
  }
  return Ok{};
}

}  // namespace pw::controller
