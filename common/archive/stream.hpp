// The decompressed tar stream that libarchive's tar reader reads through its callbacks.
// Decompression happens here, not in the tar reader's own filter chain, so that every
// byte it is handed passes two checks, in fixed chunks of at most 64 KiB:
//
//  - the ratio rule:  refused once  unpacked > max_ratio * max(compressed, 1 MiB),
//    `unpacked` counting the tar stream produced so far (headers, data, padding) and
//    `compressed` the bytes read from the file. The 1 MiB floor keeps small, very
//    compressible tarballs legal: the first max_ratio MiB (200 MiB by default) never trip
//    it, and that bounds the disk a bomb fills before it stops.
//  - a budget for one header: libarchive reads PAX records, GNU long names and sparse
//    maps into memory while it parses a header (a 10 MB .gz sparse map made it allocate
//    400 MB), so a header may take at most kHeaderBudget bytes of the stream.
//
// gzip and zstd are decoded by a second libarchive reader in "raw" format; xz by liblzma
// with a memory limit (libarchive's xz reader has none); uncompressed tars are read from
// the file directly (and can skip by seeking).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/archive/archive.hpp"
#include "common/errors/result.hpp"

struct archive;

namespace pw::archive::detail {

inline constexpr std::uint64_t kRatioFloorBytes = 1ull << 20;
inline constexpr std::uint64_t kHeaderBudget = 1ull << 20;

class Stream {
 public:
  // Errc::io when the file cannot be opened or is not a regular file; Errc::parse when
  // its compression is damaged or nested; Errc::limit when xz needs too much memory.
  static Result<std::unique_ptr<Stream>> open(const std::string& path, const Limits& limits);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // libarchive's read callback contract: bytes at *buffer, 0 at the end, -1 on error
  // (then error() says what, with its real code).
  long read(const void** buffer);
  // Skips forward in an uncompressed file; returns how far (0: libarchive reads instead).
  std::int64_t skip(std::int64_t request);
  bool can_skip() const { return kind_ == Kind::plain; }

  // Between these two calls the header budget applies.
  void begin_header();
  void end_header() { in_header_ = false; }

  const std::optional<Error>& error() const { return error_; }
  const std::string& compression() const { return compression_; }
  std::uint64_t file_size() const { return file_size_; }

 private:
  enum class Kind { plain, libarchive, xz };
  struct Xz;

  Stream() = default;
  long fail(Error error);
  long deliver(const void* data, std::size_t size, const void** buffer);
  long read_file(unsigned char* into, std::size_t size);

  Kind kind_ = Kind::plain;
  int fd_ = -1;
  std::uint64_t file_size_ = 0;
  std::uint64_t file_read_ = 0;  // bytes read (or skipped) from the file
  std::uint64_t delivered_ = 0;  // bytes of tar stream handed to the tar reader
  std::uint64_t header_start_ = 0;
  bool in_header_ = false;
  Limits limits_;
  std::string compression_ = "none";
  std::vector<unsigned char> buffer_;
  ::archive* inner_ = nullptr;  // gzip, zstd
  std::unique_ptr<Xz> xz_;
  std::optional<Error> error_;
};

}  // namespace pw::archive::detail
