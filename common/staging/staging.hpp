// Staging a release on a server: verify first, then extract. The artifact's bytes are
// copied into a private file while every signed hash is computed over them; only when
// the length and hashes match does the archive reader see the copy (so no byte of an
// unverified artifact reaches libarchive, and the file cannot change between check and
// use). The release lands in <releases_dir>/<sha256>/ atomically, or not at all.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/archive/archive.hpp"
#include "common/errors/result.hpp"
#include "common/trust/client.hpp"

namespace pw::staging {

struct Expected {
  std::optional<std::uint64_t> length;
  std::map<std::string, std::string> hashes;  // must include sha256 (names the directory)
};

struct StagedRelease {
  std::string path;  // <releases_dir>/<sha256>
  std::string sha256;
  bool already_staged = false;  // the directory existed: nothing was done (idempotent)
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

// Stages a local artifact file whose expected length/hashes come from signed metadata
// (or, for an operator trying a build by hand, from a sha256 given on the command line).
Result<StagedRelease> stage_file(const std::string& artifact, const Expected& expected,
                                 const std::string& releases_dir, const archive::Limits& limits);

// Extracts an artifact the caller has already checked against signed metadata while
// writing it, into a file only the caller can write (the agent's download directory):
// the same atomic releases/<sha256>/ placement as stage_file, without a second copy.
Result<StagedRelease> extract_verified_file(const std::string& verified_file,
                                            const std::string& sha256,
                                            const std::string& releases_dir,
                                            const archive::Limits& limits);

// Stages target `name` from `source` through the TUF client (which must have been
// refreshed): the client streams and checks it, this module keeps the verified copy and
// extracts it. Limits come from the target's custom.archive_limits over `defaults`.
Result<StagedRelease> stage_target(trust::Client& client, trust::MetadataSource& source,
                                   const std::string& name, const std::string& releases_dir,
                                   const archive::Limits& defaults);

}  // namespace pw::staging
