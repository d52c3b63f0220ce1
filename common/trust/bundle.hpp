// A metadata bundle: the metadata files a client needs, carried together (from the
// controller to an agent, or read from a repository's metadata/ directory). It serves
// them to the TUF client like any other source; it holds no target files.
#pragma once

#include <map>
#include <string>

#include "common/trust/client.hpp"

namespace pw::trust {

class MetadataBundle final : public MetadataSource {
 public:
  // file name ("2.root.json", "timestamp.json") -> bytes
  std::map<std::string, std::string> files;

  // Reads every *.json file (root, timestamp, snapshot, targets; plain or
  // version-prefixed) from DIR/metadata, refusing files over the role's size limit.
  static Result<MetadataBundle> from_directory(const std::string& repository_dir);

  Result<std::string> read(const std::string& path, std::uint64_t max_bytes) override;
  Status stream(const std::string& path, std::uint64_t max_bytes,
                const std::function<Status(std::string_view)>& sink) override;
};

}  // namespace pw::trust
