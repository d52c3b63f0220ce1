#include "agents/daemon/part_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pw::agent {
namespace {

// pwrite until `size` bytes are written or an error (its errno in `error`, else 0);
// `stop_short`: stop after a short write too (a direct write's rest is unaligned).
std::size_t write_at(int fd, const char* data, std::size_t size, std::uint64_t offset,
                     bool stop_short, int& error) {
  std::size_t done = 0;
  error = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
    if (stop_short) break;
  }
  return done;
}

}  // namespace

Result<PartFile> PartFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error(Errc::io, path + ": " + std::strerror(errno));
  // A second descriptor of the same file for direct writes; a file system without
  // O_DIRECT (EINVAL: tmpfs before Linux 6.6, some FUSE ones) keeps the page cache.
  int direct_fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECT);
  return PartFile(path, fd, direct_fd);
}

PartFile::PartFile(std::string path, int fd, int direct_fd)
    : path_(std::move(path)), fd_(fd), direct_fd_(direct_fd) {}

PartFile::PartFile(PartFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      direct_fd_(other.direct_fd_),
      end_(other.end_) {
  other.fd_ = -1;
  other.direct_fd_ = -1;
}

PartFile::~PartFile() {
  if (fd_ >= 0) ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

Status PartFile::append(std::string_view chunk) {
  const char* data = chunk.data();
  std::size_t size = chunk.size();
  int error = 0;
  bool aligned_memory = reinterpret_cast<std::uintptr_t>(data) % kBlock == 0;
  while (direct_fd_ >= 0 && aligned_memory && end_ % kBlock == 0 && size >= kBlock) {
    std::size_t done = write_at(direct_fd_, data, size / kBlock * kBlock, end_, true, error);
    if (error == EINVAL && done == 0) {
      // The file system refused this alignment after all: the page cache from now on.
      ::close(direct_fd_);
      direct_fd_ = -1;
      break;
    }
    if (error != 0) return make_error(Errc::io, path_ + ": " + std::strerror(error));
    if (done == 0) break;
    data += done;
    size -= done;
    end_ += done;
    aligned_memory = done % kBlock == 0;  // a short write leaves the rest unaligned
  }
  std::size_t done = write_at(fd_, data, size, end_, false, error);
  end_ += done;
  if (error != 0) return make_error(Errc::io, path_ + ": " + std::strerror(error));
  return Ok{};
}

}  // namespace pw::agent
