// The only place that talks to libarchive (and liblzma). Reads tar, tar.gz, tar.zst
// through libarchive and tar.xz through our own liblzma decoder, because libarchive's xz
// reader sets no memory limit (a small file can ask for a multi-GiB dictionary).
// Everything streams through fixed buffers; the decompression ratio is checked after
// every header and every data block, so a bomb stops early:
//
//   refused once  unpacked > max_ratio * max(compressed, 1 MiB)
//
// where `unpacked` counts the bytes of the tar stream produced so far (headers, data and
// padding) and `compressed` the bytes read from the file so far. The 1 MiB floor keeps
// small, very compressible tarballs legal: the first max_ratio MiB (200 MiB by default)
// never trip the rule, and disk use before it trips is bounded by that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/archive/archive.hpp"
#include "common/archive/entry_rules.hpp"
#include "common/errors/result.hpp"

struct archive;  // libarchive's handle (the name is taken by our namespace inside it)

namespace pw::archive::detail {

inline constexpr std::uint64_t kRatioFloorBytes = 1ull << 20;

class Reader {
 public:
  // Errc::io when the file cannot be opened or is not a regular file; Errc::parse when it
  // cannot be read as a single-compression tar archive.
  static Result<std::unique_ptr<Reader>> open(const std::string& path, const Limits& limits);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The next header, or nullopt after the last one. Errors: Errc::parse ("not a tar
  // archive", "corrupt or truncated archive"), Errc::limit (ratio, xz memory), Errc::io.
  Result<std::optional<RawHeader>> next();

  struct Block {
    const char* data = nullptr;
    std::size_t size = 0;
    std::uint64_t offset = 0;  // where the block goes in the file (sparse files have holes)
    bool end = false;          // no more data for this entry
  };
  // The next block of the current entry's data. The pointer is valid until the next call.
  Result<Block> read_block();

  // Reads past the rest of the current entry's data (seeking when uncompressed).
  Status skip_data();

  std::string format() const;  // as libarchive names it, once a header was read
  const std::string& compression() const { return compression_; }  // none, gzip, xz, zstd
  std::uint64_t file_size() const { return file_size_; }

  struct Source;  // the state behind libarchive's read callbacks

 private:
  Reader() = default;
  Status failure(int code, bool header);
  Status check_ratio();

  class LocaleGuard;
  std::unique_ptr<LocaleGuard> locale_;
  std::unique_ptr<Source> source_;
  ::archive* archive_ = nullptr;
  Limits limits_;
  std::string compression_ = "none";
  std::uint64_t file_size_ = 0;
  bool first_header_ = true;
};

}  // namespace pw::archive::detail
