#include "common/archive/reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace pw::archive::detail {
namespace {
// libarchive's private errno values on Linux (archive_platform.h): EFTYPE does not exist,
// so "Unrecognized archive format" carries EILSEQ; miscellaneous errors carry -1.
constexpr int kErrnoFileFormat = EILSEQ;
constexpr int kErrnoMisc = -1;
}  // namespace

// libarchive converts PAX names from UTF-8 to the locale's charset and warns when it
// cannot (in the "C" locale, for every non-ASCII name). Names are judged by our own UTF-8
// check on the raw bytes, so reading happens under C.UTF-8 on this thread, which keeps
// valid names free of spurious warnings. Without C.UTF-8 the warnings are ignored anyway.
class Reader::LocaleGuard {
 public:
  LocaleGuard() : locale_(newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{})) {
    if (locale_ != locale_t{}) previous_ = uselocale(locale_);
  }
  ~LocaleGuard() {
    if (locale_ != locale_t{}) {
      uselocale(previous_);
      freelocale(locale_);
    }
  }
  LocaleGuard(const LocaleGuard&) = delete;
  LocaleGuard& operator=(const LocaleGuard&) = delete;

 private:
  locale_t locale_;
  locale_t previous_{};
};

struct Reader::Source {
  int fd = -1;
  std::uint64_t size = 0;
  std::uint64_t position = 0;  // bytes read or skipped from the file
  bool xz = false;
  lzma_stream lzma = LZMA_STREAM_INIT;
  bool lzma_ready = false;
  bool input_eof = false;
  bool stream_end = false;
  std::vector<unsigned char> input, output;
  std::optional<Error> error;  // what failed inside a callback, with its real code

  ~Source() {
    if (lzma_ready) lzma_end(&lzma);
    if (fd >= 0) ::close(fd);
  }

  // Reads the next chunk of the file; -1 on error (recorded), 0 at its end.
  ssize_t read_file(::archive* a) {
    while (true) {
      ssize_t n = ::read(fd, input.data(), input.size());
      if (n >= 0) {
        position += static_cast<std::uint64_t>(n);
        return n;
      }
      if (errno == EINTR) continue;
      int saved = errno;
      error = make_error(Errc::io, std::string("reading the archive: ") + std::strerror(saved));
      archive_set_error(a, saved, "read failed");
      return -1;
    }
  }

  la_ssize_t fail_xz(::archive* a, lzma_ret code) {
    switch (code) {
      case LZMA_MEMLIMIT_ERROR:
        error =
            make_error(Errc::limit, "the xz stream needs " + std::to_string(lzma_memusage(&lzma)) +
                                        " bytes of memory to decode, more than the limit of " +
                                        std::to_string(lzma_memlimit_get(&lzma)));
        break;
      case LZMA_BUF_ERROR:
        error = make_error(Errc::parse, "corrupt or truncated archive (truncated xz stream)");
        break;
      case LZMA_MEM_ERROR:
        error = make_error(Errc::io, "out of memory decoding xz");
        break;
      case LZMA_OPTIONS_ERROR:
        error = make_error(Errc::parse, "corrupt or truncated archive (unsupported xz options)");
        break;
      default:
        error = make_error(Errc::parse, "corrupt or truncated archive (corrupt xz data)");
        break;
    }
    archive_set_error(a, kErrnoMisc, "xz decoding failed");
    return -1;
  }
};

namespace {

using Source = Reader::Source;

la_ssize_t read_raw(::archive* a, void* data, const void** buffer) {
  auto& source = *static_cast<Source*>(data);
  *buffer = source.input.data();
  return source.read_file(a);
}

la_int64_t skip_raw(::archive*, void* data, la_int64_t request) {
  auto& source = *static_cast<Source*>(data);
  if (request <= 0 || source.position >= source.size) return 0;
  auto amount = std::min(static_cast<std::uint64_t>(request), source.size - source.position);
  if (::lseek(source.fd, static_cast<off_t>(amount), SEEK_CUR) < 0) return 0;  // libarchive reads
  source.position += amount;
  return static_cast<la_int64_t>(amount);
}

la_ssize_t read_xz(::archive* a, void* data, const void** buffer) {
  auto& source = *static_cast<Source*>(data);
  *buffer = source.output.data();
  if (source.stream_end) return 0;
  while (true) {
    if (source.lzma.avail_in == 0 && !source.input_eof) {
      ssize_t n = source.read_file(a);
      if (n < 0) return -1;
      if (n == 0) source.input_eof = true;
      source.lzma.next_in = source.input.data();
      source.lzma.avail_in = static_cast<std::size_t>(n);
    }
    source.lzma.next_out = source.output.data();
    source.lzma.avail_out = source.output.size();
    lzma_ret code = lzma_code(&source.lzma, source.input_eof ? LZMA_FINISH : LZMA_RUN);
    auto produced = static_cast<la_ssize_t>(source.output.size() - source.lzma.avail_out);
    if (code == LZMA_STREAM_END) {
      source.stream_end = true;
      return produced;
    }
    if (code != LZMA_OK) return source.fail_xz(a, code);
    if (produced > 0) return produced;
  }
}

bool is_xz(int fd) {
  static const unsigned char magic[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
  unsigned char head[6] = {};
  return ::pread(fd, head, sizeof head, 0) == static_cast<ssize_t>(sizeof head) &&
         std::memcmp(head, magic, sizeof head) == 0;
}

RawType raw_type(struct archive_entry* entry) {
  if (archive_entry_hardlink(entry) != nullptr) return RawType::hardlink;
  switch (archive_entry_filetype(entry)) {
    case AE_IFREG:
      return RawType::file;
    case AE_IFDIR:
      return RawType::directory;
    case AE_IFLNK:
      return RawType::symlink;
    case AE_IFCHR:
      return RawType::char_device;
    case AE_IFBLK:
      return RawType::block_device;
    case AE_IFIFO:
      return RawType::fifo;
    case AE_IFSOCK:
      return RawType::socket;
    default:
      return RawType::unknown;
  }
}

std::string text_or_empty(const char* text) { return text != nullptr ? text : ""; }

}  // namespace

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path, const Limits& limits) {
  std::unique_ptr<Reader> reader(new Reader());
  reader->locale_ = std::make_unique<LocaleGuard>();
  reader->limits_ = limits;
  reader->source_ = std::make_unique<Source>();
  Source& source = *reader->source_;
  source.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (source.fd < 0) {
    return make_error(Errc::io, "cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(source.fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    return make_error(Errc::io, path + " is not a regular file");
  }
  source.size = static_cast<std::uint64_t>(info.st_size);
  reader->file_size_ = source.size;
  (void)::posix_fadvise(source.fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  source.xz = is_xz(source.fd);
  if (source.xz) {
    if (lzma_stream_decoder(&source.lzma, limits.xz_memory_limit, LZMA_CONCATENATED) != LZMA_OK) {
      return make_error(Errc::internal, "cannot start the xz decoder");
    }
    source.lzma_ready = true;
    source.input.resize(256 << 10);
    source.output.resize(1 << 20);
    reader->compression_ = "xz";
  } else {
    source.input.resize(1 << 20);
  }

  reader->archive_ = archive_read_new();
  ::archive* a = reader->archive_;
  if (a == nullptr) return make_error(Errc::internal, "archive_read_new failed");
  if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
      (!source.xz && (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
                      archive_read_support_filter_zstd(a) != ARCHIVE_OK))) {
    return make_error(Errc::internal, std::string("libarchive lacks tar, gzip or zstd support: ") +
                                          text_or_empty(archive_error_string(a)));
  }
  int code = archive_read_open2(a, &source, nullptr, source.xz ? read_xz : read_raw,
                                source.xz ? nullptr : skip_raw, nullptr);
  if (code != ARCHIVE_OK) return reader->failure(code, true).error();
  if (archive_filter_count(a) > 2) {
    return make_error(Errc::parse, "nested compression (" +
                                       text_or_empty(archive_filter_name(a, 0)) + " inside " +
                                       text_or_empty(archive_filter_name(a, 1)) + ")");
  }
  if (!source.xz) {
    switch (archive_filter_code(a, 0)) {
      case ARCHIVE_FILTER_NONE:
        reader->compression_ = "none";
        break;
      case ARCHIVE_FILTER_GZIP:
        reader->compression_ = "gzip";
        break;
      case ARCHIVE_FILTER_ZSTD:
        reader->compression_ = "zstd";
        break;
      default:
        return make_error(Errc::parse,
                          "unsupported compression " + text_or_empty(archive_filter_name(a, 0)));
    }
  }
  return reader;
}

Reader::~Reader() {
  if (archive_ != nullptr) archive_read_free(archive_);
}

Status Reader::failure(int code, bool header) {
  if (source_->error) return *source_->error;
  std::string message = text_or_empty(archive_error_string(archive_));
  if (message.empty()) message = "libarchive status " + std::to_string(code);
  if (header && first_header_ && archive_errno(archive_) == kErrnoFileFormat) {
    return make_error(Errc::parse, "not a tar archive (" + message + ")");
  }
  return make_error(Errc::parse, "corrupt or truncated archive (" + message + ")");
}

Status Reader::check_ratio() {
  auto unpacked =
      static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_filter_bytes(archive_, 0)));
  std::uint64_t base = std::max(source_->position, kRatioFloorBytes);
  if (limits_.max_ratio <= UINT64_MAX / base && unpacked > limits_.max_ratio * base) {
    return make_error(Errc::limit, "compression ratio above " + std::to_string(limits_.max_ratio) +
                                       " (" + std::to_string(unpacked) + " bytes unpacked from " +
                                       std::to_string(source_->position) + " compressed)");
  }
  return Ok{};
}

Result<std::optional<RawHeader>> Reader::next() {
  struct archive_entry* entry = nullptr;
  int code = archive_read_next_header(archive_, &entry);
  if (code == ARCHIVE_EOF) {
    if (source_->error) return *source_->error;
    return std::optional<RawHeader>{};
  }
  if (code != ARCHIVE_OK && code != ARCHIVE_WARN) return failure(code, true).error();
  first_header_ = false;
  RawHeader header;
  const char* name = archive_entry_pathname(entry);
  if (name == nullptr) name = archive_entry_pathname_utf8(entry);
  header.name = text_or_empty(name);
  header.type = raw_type(entry);
  if (header.type == RawType::hardlink) {
    header.link_target = text_or_empty(archive_entry_hardlink(entry));
  } else if (header.type == RawType::symlink) {
    header.link_target = text_or_empty(archive_entry_symlink(entry));
  }
  if (archive_entry_size_is_set(entry) != 0 && archive_entry_size(entry) > 0) {
    header.size = static_cast<std::uint64_t>(archive_entry_size(entry));
  }
  header.permissions = static_cast<std::uint32_t>(archive_entry_perm(entry)) & 07777u;
  if (archive_entry_mtime_is_set(entry) != 0) {
    header.has_mtime = true;
    header.mtime_sec = archive_entry_mtime(entry);
    header.mtime_nsec = archive_entry_mtime_nsec(entry);
  }
  if (code == ARCHIVE_WARN) header.warning = text_or_empty(archive_error_string(archive_));
  PW_TRY(check_ratio());
  return std::optional<RawHeader>{std::move(header)};
}

Result<Reader::Block> Reader::read_block() {
  const void* data = nullptr;
  std::size_t size = 0;
  la_int64_t offset = 0;
  int code = archive_read_data_block(archive_, &data, &size, &offset);
  if (code == ARCHIVE_EOF) {
    if (source_->error) return *source_->error;
    Block end;
    end.end = true;
    return end;
  }
  if (code != ARCHIVE_OK) return failure(code, false).error();
  PW_TRY(check_ratio());
  Block block;
  block.data = static_cast<const char*>(data);
  block.size = size;
  block.offset = static_cast<std::uint64_t>(std::max<la_int64_t>(0, offset));
  return block;
}

Status Reader::skip_data() {
  if (compression_ == "none") {
    if (archive_read_data_skip(archive_) != ARCHIVE_OK) return failure(ARCHIVE_FATAL, false);
    return Ok{};
  }
  while (true) {
    PW_TRY_ASSIGN(Block block, read_block());
    if (block.end) return Ok{};
  }
}

std::string Reader::format() const { return text_or_empty(archive_format_name(archive_)); }

}  // namespace pw::archive::detail
