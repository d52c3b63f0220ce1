// Hostile (and benign) tar archives for the archive module's tests, built at test time.
// Tar headers are written byte by byte, so any header can be expressed (absolute names,
// '..', GNU long names, PAX records, devices, setuid bits, lying sizes), then compressed
// with libarchive's write filters (gzip, xz, zstd) through its "raw" format.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/archive/archive.hpp"
#include "common/errors/result.hpp"

struct archive;

namespace pw::test {

enum class Compression { none, gzip, xz, zstd };
const char* compression_name(Compression compression);
inline constexpr Compression kCompressions[] = {Compression::none, Compression::gzip,
                                                Compression::xz, Compression::zstd};

// Writes a tar stream into `path` through `compression`. Throws std::runtime_error.
class TarWriter {
 public:
  struct Header {
    std::string name;
    char type = '0';  // '0' file, '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' FIFO
    std::uint64_t size = 0;
    std::uint32_t mode = 0644;
    std::string link;
    std::uint32_t uid = 0, gid = 0;
    std::uint32_t dev_major = 0, dev_minor = 0;
    std::int64_t mtime = 1700000000;
    bool gnu_magic = false;  // "ustar  \0" (GNU) instead of "ustar\0" "00" (POSIX)
  };

  TarWriter(const std::string& path, Compression compression);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // One header block. A name longer than 100 bytes is split into ustar prefix and name
  // at a '/', or throws (use gnu_long_name or pax for the rest).
  void header(const Header& header);
  void data(std::string_view bytes);  // followed by pad()
  void zeros(std::uint64_t count);    // streamed, for large entries
  void pad();                         // to the next 512-byte boundary

  void file(const std::string& name, std::string_view content, std::uint32_t mode = 0644);
  void dir(const std::string& name, std::uint32_t mode = 0755);
  void symlink(const std::string& name, const std::string& target);
  void hardlink(const std::string& name, const std::string& target);
  void gnu_long_name(const std::string& name);  // an 'L' entry naming the next header
  void pax(const std::vector<std::pair<std::string, std::string>>& records);  // an 'x' entry
  void end();                                                                 // two zero blocks
  void raw(std::string_view bytes);                                           // anything at all

  // Flushes and closes the file (also done by the destructor, without reporting).
  void close();

 private:
  void write(const char* data, std::size_t size);
  ::archive* archive_ = nullptr;
  std::uint64_t written_ = 0;
};

// One class of hostile archive: how to build it and how extract() must refuse it.
struct HostileCase {
  std::string name;
  Errc code = Errc::invalid_argument;
  // The entry the error names, printable ("" for the archive itself); nullopt where it
  // depends on the compression (where a damaged stream first fails).
  std::optional<std::string> entry;
  std::string rule;  // a substring of the rule
  archive::Limits limits;
  bool needs_compression = false;  // a ratio bomb means nothing without compression
  std::function<void(TarWriter&)> build;
  // Applied to the finished (compressed) file, e.g. truncation or corruption.
  std::function<void(const std::string& path, Compression)> damage;
};

// Every class, with absolute names and link targets pointing into `outside` (an absolute
// directory outside any extraction root, holding a file "canary") and relative escapes
// aimed at "../canary" (a sibling of the destination).
std::vector<HostileCase> hostile_cases(const std::string& outside);

void write_case(const HostileCase& hostile, Compression compression, const std::string& path);

// Deterministic bytes that compress moderately (not all zeros, not random).
std::string pattern_bytes(std::size_t size, std::uint32_t seed = 1);
// Deterministic bytes that do not compress.
std::string random_bytes(std::size_t size, std::uint32_t seed = 1);

}  // namespace pw::test
