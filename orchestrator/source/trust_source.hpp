// Lets the TUF client read from a manifests repository.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/trust/client.hpp"
#include "orchestrator/source/source.hpp"

namespace pw::source {

class TrustSource final : public trust::MetadataSource {
 public:
  explicit TrustSource(RepositoryReader& reader) : reader_(&reader) {}

  // Files that take precedence over the repository's (used to verify what is about to
  // be published before it is written).
  void overlay(const std::string& path, std::string content) {
    overlay_[path] = std::move(content);
  }

  Result<std::string> read(const std::string& path, std::uint64_t max_bytes) override;
  Status stream(const std::string& path, std::uint64_t max_bytes,
                const std::function<Status(std::string_view)>& sink) override;

 private:
  RepositoryReader* reader_;
  std::map<std::string, std::string> overlay_;
};

}  // namespace pw::source
