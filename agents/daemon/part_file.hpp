// The file a download goes into (<state>/downloads/<sha>.part), appended to at its end.
// Whole aligned blocks are written with O_DIRECT when the file system allows it: the
// artifact is read once more by the extraction and never again, and copying it into
// fresh page-cache pages costs more CPU than hashing it (about 0.9 s per GiB here,
// against 0.1 s for the same bytes written directly), on cores the agent shares with the
// TLS sender. The rest (an unaligned end, a file system without O_DIRECT) is written
// through the page cache as before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/errors/result.hpp"

namespace pw::agent {

class PartFile {
 public:
  static constexpr std::size_t kBlock = 4096;  // O_DIRECT's offset, size and memory alignment

  // Opens (creating with mode 0600, never through a symlink) for reading and appending.
  static Result<PartFile> open(const std::string& path);
  ~PartFile();
  PartFile(PartFile&& other) noexcept;
  PartFile& operator=(PartFile&&) = delete;
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  // The descriptor to read what an earlier run left (from the start, sequentially).
  int read_fd() const { return fd_; }
  // Where append writes next; set it to the length once the old content was read.
  void seek_end(std::uint64_t size) { end_ = size; }
  std::uint64_t end() const { return end_; }
  // Bytes to append before the end is block-aligned again (0 when it is): the first
  // chunk of a resumed download is cut to this size so that the next ones go direct.
  std::size_t to_alignment() const {
    return static_cast<std::size_t>((kBlock - end_ % kBlock) % kBlock);
  }
  // Writes `chunk` at the end: direct for its block-aligned part when the end, the
  // memory and the length allow, through the page cache otherwise.
  Status append(std::string_view chunk);
  bool direct() const { return direct_fd_ >= 0; }

 private:
  PartFile(std::string path, int fd, int direct_fd);

  std::string path_;
  int fd_ = -1;
  int direct_fd_ = -1;
  std::uint64_t end_ = 0;
};

}  // namespace pw::agent
