// The file an artifact downloads into (downloads/<sha256>.part). Whole pages at page
// offsets from page-aligned memory go around the page cache (O_DIRECT): the file is
// written once and read once by the extractor, and on virtual machines that hand freed
// memory back to the host, filling fresh page-cache pages costs more CPU than the TLS
// and the hashing together (docs/BENCHMARKS.md). Everything else (a resumed download's
// odd start, the last partial page) and filesystems without O_DIRECT (tmpfs) use
// ordinary writes. The kernel keeps the two paths coherent; they never touch the same
// page here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/errors/result.hpp"

namespace pw::agent {

class PartFile {
 public:
  // Opens or creates `path` (0600, no symlinks) and cuts it to whole pages, so that a
  // resumed download continues at a page boundary (at most a page is fetched again).
  static Result<PartFile> open(const std::string& path);
  PartFile(PartFile&& other) noexcept;
  PartFile& operator=(PartFile&&) = delete;
  ~PartFile();

  int fd() const { return fd_; }  // the ordinary descriptor, for reading what is there
  bool direct() const { return direct_fd_ >= 0; }
  // Writes `data` at `offset` (the download's position).
  Status write_at(std::uint64_t offset, std::string_view data);

 private:
  PartFile(std::string path, int fd, int direct_fd)
      : path_(std::move(path)), fd_(fd), direct_fd_(direct_fd) {}
  Status write_all(int fd, std::uint64_t offset, std::string_view data);

  std::string path_;
  int fd_ = -1;
  int direct_fd_ = -1;
};

}  // namespace pw::agent
