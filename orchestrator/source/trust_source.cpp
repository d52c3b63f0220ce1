#include "orchestrator/source/trust_source.hpp"

namespace pw::source {

Result<std::string> TrustSource::read(const std::string& path, std::uint64_t max_bytes) {
  auto it = overlay_.find(path);
  if (it == overlay_.end()) return reader_->read(path, max_bytes);
  if (it->second.size() > max_bytes) {
    return make_error(Errc::limit,
                      path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return it->second;
}

Status TrustSource::stream(const std::string& path, std::uint64_t max_bytes,
                           const std::function<Status(std::string_view)>& sink) {
  auto it = overlay_.find(path);
  if (it == overlay_.end()) return reader_->stream(path, max_bytes, sink);
  if (it->second.size() > max_bytes) {
    return make_error(Errc::limit,
                      path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return sink(it->second);
}

}  // namespace pw::source
