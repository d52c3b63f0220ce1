#include "common/trust/bundle.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace pw::trust {
namespace {

std::uint64_t limit_for(const std::string& name) {
  if (name.ends_with("root.json")) return kMaxRootBytes;
  if (name.ends_with("timestamp.json")) return kMaxTimestampBytes;
  if (name.ends_with("snapshot.json")) return kMaxSnapshotBytes;
  return kMaxTargetsBytes;
}

}  // namespace

Result<MetadataBundle> MetadataBundle::from_directory(const std::string& repository_dir) {
  namespace fs = std::filesystem;
  MetadataBundle bundle;
  std::string dir = repository_dir + "/metadata";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return make_error(Errc::not_found, dir + ": no metadata directory");
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !name.ends_with(".json")) continue;
    if (entry.file_size() > limit_for(name)) {
      return make_error(Errc::limit, entry.path().string() + " is larger than " +
                                         std::to_string(limit_for(name)) + " bytes");
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in) return make_error(Errc::io, "cannot read " + entry.path().string());
    bundle.files[name] = bytes.str();
  }
  if (ec) return make_error(Errc::io, "cannot list " + dir + ": " + ec.message());
  return bundle;
}

Result<std::string> MetadataBundle::read(const std::string& path, std::uint64_t max_bytes) {
  const std::string prefix = "metadata/";
  auto it = path.starts_with(prefix) ? files.find(path.substr(prefix.size())) : files.end();
  if (it == files.end()) return make_error(Errc::not_found, path + ": not in the metadata bundle");
  if (it->second.size() > max_bytes) {
    return make_error(Errc::limit, path + " is " + std::to_string(it->second.size()) +
                                       " bytes, more than the limit of " +
                                       std::to_string(max_bytes) + " bytes");
  }
  return it->second;
}

Status MetadataBundle::stream(const std::string& path, std::uint64_t /*max_bytes*/,
                              const std::function<Status(std::string_view)>& /*sink*/) {
  return make_error(Errc::not_found, path + ": a metadata bundle holds no target files");
}

}  // namespace pw::trust
