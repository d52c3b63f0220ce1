#include "agents/daemon/part_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agents/daemon/pipeline.hpp"  // kPageAlignment

namespace pw::agent {

Result<PartFile> PartFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error(Errc::io, path + ": " + std::strerror(errno));
  PartFile file(path, fd, -1);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return make_error(Errc::io, path + ": " + std::strerror(errno));
  auto size = static_cast<std::uint64_t>(info.st_size);
  if (size % kPageAlignment != 0 &&
      ::ftruncate(fd, static_cast<off_t>(size - size % kPageAlignment)) != 0) {
    return make_error(Errc::io, path + ": " + std::strerror(errno));
  }
  // EINVAL: the filesystem has no O_DIRECT (tmpfs); ordinary writes then.
  file.direct_fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECT);
  return file;
}

PartFile::PartFile(PartFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), direct_fd_(other.direct_fd_) {
  other.fd_ = other.direct_fd_ = -1;
}

PartFile::~PartFile() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (fd_ >= 0) ::close(fd_);
}

Status PartFile::write_at(std::uint64_t offset, std::string_view data) {
  bool whole_pages = offset % kPageAlignment == 0 && data.size() % kPageAlignment == 0 &&
                     reinterpret_cast<std::uintptr_t>(data.data()) % kPageAlignment == 0;
  if (direct_fd_ >= 0 && whole_pages) {
    Status written = write_all(direct_fd_, offset, data);
    if (written.ok()) return written;
    if (written.error().code != Errc::unsupported) return written;
    // The device wants a larger alignment than a page: ordinary writes from now on.
    ::close(direct_fd_);
    direct_fd_ = -1;
  }
  return write_all(fd_, offset, data);
}

Status PartFile::write_all(int fd, std::uint64_t offset, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && fd == direct_fd_) {
      return make_error(Errc::unsupported, path_ + ": O_DIRECT write refused");
    }
    if (n < 0) return make_error(Errc::io, path_ + ": " + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return Ok{};
}

}  // namespace pw::agent
