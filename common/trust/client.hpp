// The TUF 1.0.x client workflow (spec section 5): from a pinned root, update root
// through the rotation chain, then timestamp, snapshot and targets, each verified
// against the trusted root, its version never going down and its expiry enforced; then
// verify target files by length and hashes while they stream.
//
// Delegated targets roles are not followed yet: a target must be listed in the
// top-level targets.json.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/errors/result.hpp"
#include "common/trust/metadata.hpp"

namespace pw::trust {

// Where metadata and targets come from (a git tree, a directory, an HTTP server).
// Paths are repository-relative: "metadata/2.root.json", "targets/app/1.0.tar.gz".
class MetadataSource {
 public:
  virtual ~MetadataSource() = default;
  // Errc::not_found when the file does not exist; Errc::limit when over max_bytes.
  virtual Result<std::string> read(const std::string& path, std::uint64_t max_bytes) = 0;
  // Streams; Errc::limit as soon as more than max_bytes were seen.
  virtual Status stream(const std::string& path, std::uint64_t max_bytes,
                        const std::function<Status(std::string_view)>& sink) = 0;
};

// Where verified metadata is kept between runs, so that a later run refuses older
// metadata. Keys: "root", "timestamp", "snapshot", "targets".
class TrustedStore {
 public:
  virtual ~TrustedStore() = default;
  virtual Result<std::optional<std::string>> load(const std::string& role) = 0;
  virtual Status save(const std::string& role, std::string_view bytes) = 0;
  virtual Status remove(const std::string& role) = 0;
};

// Files "<role>.json" in a directory, written atomically (temp file, fsync, rename).
std::unique_ptr<TrustedStore> directory_store(const std::string& dir);
// Keeps nothing beyond the object's life (the default for one-off verification).
std::unique_ptr<TrustedStore> memory_store();

struct ClientOptions {
  TimePoint now;  // the fixed update start time (spec 5.1)
  std::uint64_t max_root_rotations = 64;
};

struct VerifiedTarget {
  std::string path;
  TargetFile info;
};

class Client {
 public:
  // Starts from `pinned_root` (raw bytes of a root.json, trusted by fiat: it must carry
  // a threshold of its own root keys). If the store holds a root of a higher version,
  // that one is the starting point; stored timestamp/snapshot/targets that still
  // verify against it are kept for rollback checks (their expiry is not re-checked).
  static Result<Client> create(std::string_view pinned_root, TrustedStore& store,
                               ClientOptions options);

  // The whole update: root rotation loop, timestamp, snapshot, targets. Each newly
  // verified document is saved to the store before the next one is fetched.
  Status refresh(MetadataSource& source);

  // Finds `path` in the trusted targets; Errc::not_found if it is not listed.
  Result<VerifiedTarget> find_target(const std::string& path) const;

  // Streams the target file from `source` (at targets/<path>, or the hash-prefixed
  // name with consistent snapshots) through every supported hash it lists, refusing
  // a wrong length or hash. `sink`, if given, receives the bytes as they pass; the
  // caller must discard what it received if this returns an error.
  Result<VerifiedTarget> verify_target(MetadataSource& source, const std::string& path,
                                       const std::function<Status(std::string_view)>& sink = {});

  const Root& root() const { return *root_; }
  const std::optional<Timestamp>& timestamp() const { return timestamp_; }
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }
  const std::optional<Targets>& targets() const { return targets_; }
  // Versions of the roots that refresh() rotated through, in order.
  const std::vector<std::uint64_t>& rotated_roots() const { return rotated_roots_; }

 private:
  Client(TrustedStore& store, ClientOptions options) : store_(&store), options_(options) {}
  void load_stored();
  Status update_root(MetadataSource& source);
  Status update_timestamp(MetadataSource& source);
  Status update_snapshot(MetadataSource& source);
  Status update_targets(MetadataSource& source);
  Status check_expiry(const Envelope& envelope) const;

  TrustedStore* store_;
  ClientOptions options_;
  std::optional<Root> root_;
  std::optional<Timestamp> timestamp_;
  std::optional<Snapshot> snapshot_;
  std::optional<Targets> targets_;
  std::vector<std::uint64_t> rotated_roots_;
};

}  // namespace pw::trust
