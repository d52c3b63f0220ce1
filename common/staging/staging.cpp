#include "common/staging/staging.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/trust/hash_check.hpp"

namespace pw::staging {
namespace fs = std::filesystem;

namespace {

Error errno_error(const std::string& what, const std::string& path) {
  return make_error(Errc::io, what + " " + path + ": " + std::strerror(errno));
}

// A private file in the releases directory that is removed unless kept.
class IncomingFile {
 public:
  static Result<IncomingFile> create(const std::string& dir, const std::string& sha256) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::io, "cannot create " + dir + ": " + ec.message());
    IncomingFile file;
    file.path_ = dir + "/.incoming-" + sha256 + "-" + std::to_string(::getpid());
    file.fd_ =
        ::open(file.path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (file.fd_ < 0) return errno_error("cannot create", file.path_);
    return file;
  }
  IncomingFile() = default;
  IncomingFile(IncomingFile&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
    other.fd_ = -1;
    other.path_.clear();
  }
  IncomingFile& operator=(IncomingFile&&) = delete;
  ~IncomingFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  Status write(std::string_view chunk) {
    while (!chunk.empty()) {
      ssize_t n = ::write(fd_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error("cannot write", path_);
      chunk.remove_prefix(static_cast<std::size_t>(n));
    }
    return Ok{};
  }
  Status close() {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return errno_error("cannot close", path_);
    return Ok{};
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

Result<std::string> sha256_of(const std::map<std::string, std::string>& hashes) {
  auto it = hashes.find("sha256");
  if (it == hashes.end() || it->second.size() != 64 ||
      it->second.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return make_error(Errc::invalid_argument,
                      "the expected hashes must include a sha256 as 64 lowercase hex digits (it "
                      "names the release directory)");
  }
  return it->second;
}

Result<StagedRelease> extract_verified(const IncomingFile& incoming, const std::string& sha256,
                                       const std::string& destination,
                                       const archive::Limits& limits) {
  PW_TRY_ASSIGN(auto extracted, archive::extract(incoming.path(), destination, limits));
  return StagedRelease{extracted.path, sha256, false, extracted.files, extracted.bytes};
}

}  // namespace

Result<StagedRelease> stage_file(const std::string& artifact, const Expected& expected,
                                 const std::string& releases_dir, const archive::Limits& limits) {
  PW_TRY_ASSIGN(std::string sha256, sha256_of(expected.hashes));
  std::string destination = releases_dir + "/" + sha256;
  if (fs::is_directory(destination)) return StagedRelease{destination, sha256, true, 0, 0};

  int in = ::open(artifact.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_error("cannot open", artifact);
  std::unique_ptr<int, void (*)(int*)> closer(&in, [](int* fd) { ::close(*fd); });

  PW_TRY_ASSIGN(IncomingFile incoming, IncomingFile::create(releases_dir, sha256));
  trust::HashCheck check(expected.length, expected.hashes);
  std::vector<char> buffer(std::size_t{1} << 20);
  for (;;) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", artifact);
    if (n == 0) break;
    std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
    check.update(chunk);
    if (expected.length && check.seen() > *expected.length) {
      return make_error(Errc::mismatch, "longer than the signed length of " +
                                            std::to_string(*expected.length) + " bytes")
          .with_context(artifact);
    }
    PW_TRY(incoming.write(chunk));
  }
  PW_TRY(check.finish(artifact));
  PW_TRY(incoming.close());
  return extract_verified(incoming, sha256, destination, limits);
}

Result<StagedRelease> extract_verified_file(const std::string& verified_file,
                                            const std::string& sha256,
                                            const std::string& releases_dir,
                                            const archive::Limits& limits) {
  PW_TRY(sha256_of({{"sha256", sha256}}));
  std::string destination = releases_dir + "/" + sha256;
  if (fs::is_directory(destination)) return StagedRelease{destination, sha256, true, 0, 0};
  std::error_code ec;
  fs::create_directories(releases_dir, ec);
  if (ec) return make_error(Errc::io, "cannot create " + releases_dir + ": " + ec.message());
  PW_TRY_ASSIGN(auto extracted, archive::extract(verified_file, destination, limits));
  return StagedRelease{extracted.path, sha256, false, extracted.files, extracted.bytes};
}

Result<StagedRelease> stage_target(trust::Client& client, trust::MetadataSource& source,
                                   const std::string& name, const std::string& releases_dir,
                                   const archive::Limits& defaults) {
  PW_TRY_ASSIGN(auto target, client.find_target(name));
  PW_TRY_ASSIGN(std::string sha256, sha256_of(target.info.hashes));
  PW_TRY_ASSIGN(archive::Limits limits, archive::limits_from_custom(target.info.custom, defaults));
  std::string destination = releases_dir + "/" + sha256;
  if (fs::is_directory(destination)) return StagedRelease{destination, sha256, true, 0, 0};

  PW_TRY_ASSIGN(IncomingFile incoming, IncomingFile::create(releases_dir, sha256));
  PW_TRY(client.verify_target(source, name,
                              [&](std::string_view chunk) { return incoming.write(chunk); }));
  PW_TRY(incoming.close());
  return extract_verified(incoming, sha256, destination, limits);
}

}  // namespace pw::staging
