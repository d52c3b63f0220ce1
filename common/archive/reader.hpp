// The tar reader: libarchive's tar format (ustar, pax, GNU) and nothing else, over the
// decompressed stream of stream.hpp (which applies the ratio rule, the per-header budget
// and the xz memory limit). The only place that turns libarchive's entries into
// RawHeaders and its errors into ours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/archive/archive.hpp"
#include "common/archive/entry_rules.hpp"
#include "common/archive/stream.hpp"
#include "common/errors/result.hpp"

struct archive;  // libarchive's handle (the name is taken by our namespace inside it)

namespace pw::archive::detail {

class Reader {
 public:
  // Errc::io when the file cannot be opened or is not a regular file; Errc::parse when it
  // cannot be read as a single-compression tar archive; Errc::limit from the stream.
  static Result<std::unique_ptr<Reader>> open(const std::string& path, const Limits& limits);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The next header, or nullopt after the last one. Errors: Errc::parse ("not a tar
  // archive", "corrupt or truncated archive"), Errc::limit (ratio, header budget, xz
  // memory), Errc::io.
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
  // Reads the rest of a file's data and refuses (Errc::parse) a block that lies beyond
  // `size`, as extraction does: a sparse map can put data past the size the header
  // gives, which seeking past the data would never notice.
  Status drain_within(std::uint64_t size);

  std::string format() const;  // as libarchive names it, once a header was read
  const std::string& compression() const { return stream_->compression(); }
  std::uint64_t file_size() const { return stream_->file_size(); }

 private:
  Reader() = default;
  Error failure(int code, bool header);

  class LocaleGuard;
  std::unique_ptr<LocaleGuard> locale_;
  std::unique_ptr<Stream> stream_;
  ::archive* archive_ = nullptr;
  bool first_header_ = true;
};

}  // namespace pw::archive::detail
