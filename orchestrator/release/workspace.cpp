#include "orchestrator/release/workspace.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "orchestrator/source/source.hpp"

namespace pw::authoring::detail {
namespace {

template <typename T, typename Parse>
Result<std::optional<T>> load(const std::string& dir, const std::string& relative, Parse parse) {
  PW_TRY_ASSIGN(auto bytes, read_optional(join(dir, relative)));
  if (!bytes) return std::optional<T>{};
  PW_TRY_ASSIGN(T doc, parse(*bytes, relative));
  return std::optional<T>{std::move(doc)};
}

}  // namespace

std::string join(const std::string& dir, const std::string& relative) {
  return dir + "/" + relative;
}

Result<std::optional<std::string>> read_optional(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return std::optional<std::string>{};
    return make_error(Errc::io, "cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return std::optional<std::string>{buffer.str()};
}

Status write_atomic(const std::string& path, std::string_view content) {
  std::error_code ec;
  // A bare file name ("ctl.pub") has no parent to create.
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec)
    return make_error(Errc::io, "cannot create the directory of " + path + ": " + ec.message());
  std::string temp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(Errc::io, "cannot create " + temp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(temp.c_str());
      return make_error(Errc::io, "cannot write " + temp + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    return make_error(Errc::io, "cannot write " + path + ": " + why);
  }
  return Ok{};
}

std::string envelope_text(const json::Value& signed_json,
                          const std::vector<trust::Signature>& signatures) {
  json::Value sigs = json::Value::array();
  for (const auto& sig : signatures) sigs.push_back({{"keyid", sig.keyid}, {"sig", sig.sig}});
  json::Value doc = {{"signatures", sigs}, {"signed", signed_json}};
  return doc.dump(1, ' ') + "\n";
}

Status add_signature(const trust::Envelope& envelope, const crypto::PrivateKey& key,
                     const std::string& keyid, std::vector<trust::Signature>& signatures) {
  PW_TRY_ASSIGN(std::string sig, key.sign(envelope.canonical));
  for (auto& existing : signatures) {
    if (existing.keyid == keyid) {
      existing.sig = sig;
      return Ok{};
    }
  }
  signatures.push_back({keyid, sig});
  return Ok{};
}

Result<std::optional<trust::Root>> published_root(const std::string& dir) {
  return load<trust::Root>(dir, "metadata/root.json", trust::parse_root);
}
Result<std::optional<trust::Targets>> published_targets(const std::string& dir) {
  return load<trust::Targets>(dir, "metadata/targets.json", trust::parse_targets);
}
Result<std::optional<trust::Snapshot>> published_snapshot(const std::string& dir) {
  return load<trust::Snapshot>(dir, "metadata/snapshot.json", trust::parse_snapshot);
}
Result<std::optional<trust::Timestamp>> published_timestamp(const std::string& dir) {
  return load<trust::Timestamp>(dir, "metadata/timestamp.json", trust::parse_timestamp);
}
Result<std::optional<trust::Root>> staged_root(const std::string& dir) {
  return load<trust::Root>(dir, "staged/root.json", trust::parse_root);
}
Result<std::optional<trust::Targets>> staged_targets(const std::string& dir) {
  return load<trust::Targets>(dir, "staged/targets.json", trust::parse_targets);
}

Status save_staged(const std::string& dir, trust::Role role, const json::Value& signed_json,
                   const std::vector<trust::Signature>& signatures) {
  std::string file = std::string("staged/") + trust::role_name(role) + ".json";
  return write_atomic(join(dir, file), envelope_text(signed_json, signatures));
}

std::optional<std::string> listed_keyid(const trust::Root& root, trust::Role role,
                                        const crypto::PublicKey& key) {
  for (const auto& keyid : root.roles.at(role).keyids) {
    const auto& listed = root.keys.at(keyid);
    if (listed.supported() && listed.identity() == key.identity()) return keyid;
  }
  return std::nullopt;
}

Result<json::Value> root_signed(std::uint64_t version, trust::TimePoint expires,
                                bool consistent_snapshot,
                                const std::map<trust::Role, RoleEntry>& roles) {
  json::Value keys = json::Value::object();
  json::Value role_json = json::Value::object();
  for (trust::Role role :
       {trust::Role::root, trust::Role::timestamp, trust::Role::snapshot, trust::Role::targets}) {
    auto it = roles.find(role);
    if (it == roles.end()) {
      return make_error(Errc::invalid_argument,
                        std::string("role ") + trust::role_name(role) + " has no keys");
    }
    const RoleEntry& entry = it->second;
    std::set<std::string> identities;
    json::Value keyids = json::Value::array();
    for (const auto& key : entry.keys) {
      if (!identities.insert(key.identity()).second) {
        return make_error(Errc::invalid_argument, std::string("role ") + trust::role_name(role) +
                                                      ": key " + key.keyid() + " is given twice");
      }
      keys[key.keyid()] = key.to_json();
      keyids.push_back(key.keyid());
    }
    if (entry.threshold < 1 || entry.threshold > identities.size()) {
      return make_error(Errc::invalid_argument,
                        std::string("role ") + trust::role_name(role) + ": threshold " +
                            std::to_string(entry.threshold) + " cannot be met by " +
                            std::to_string(identities.size()) + " key(s)");
    }
    role_json[trust::role_name(role)] = {{"keyids", keyids}, {"threshold", entry.threshold}};
  }
  return json::Value{{"_type", "root"},
                     {"spec_version", kSpecVersion},
                     {"version", version},
                     {"expires", trust::format_time(expires)},
                     {"consistent_snapshot", consistent_snapshot},
                     {"keys", keys},
                     {"roles", role_json}};
}

Result<std::string> commit(const std::string& dir, const std::string& message) {
  return source::commit_paths(dir, {"metadata", "targets", "staged"}, message);
}

}  // namespace pw::authoring::detail
