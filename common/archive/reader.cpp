#include "common/archive/reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace pw::archive::detail {
namespace {

// libarchive's private errno values on Linux (archive_platform.h): EFTYPE does not exist,
// so "Unrecognized archive format" carries EILSEQ; miscellaneous errors carry -1.
constexpr int kErrnoFileFormat = EILSEQ;
constexpr int kErrnoMisc = -1;

la_ssize_t read_callback(::archive* a, void* data, const void** buffer) {
  long n = static_cast<Stream*>(data)->read(buffer);
  if (n < 0) archive_set_error(a, kErrnoMisc, "reading the tar stream failed");
  return n;
}

la_int64_t skip_callback(::archive*, void* data, la_int64_t request) {
  return static_cast<Stream*>(data)->skip(request);
}

RawType raw_type(archive_entry* entry) {
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

// libarchive converts PAX names from UTF-8 to the locale's charset and warns when it
// cannot (in the "C" locale, for every non-ASCII name); the bytes it returns stay the
// raw ones either way. Names are judged by our own UTF-8 check on those bytes, so
// reading happens under C.UTF-8 on this thread, which keeps valid names free of spurious
// warnings (and the checker ignores charset warnings if C.UTF-8 is missing).
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

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path, const Limits& limits) {
  std::unique_ptr<Reader> reader(new Reader());
  reader->locale_ = std::make_unique<LocaleGuard>();
  PW_TRY_ASSIGN(reader->stream_, Stream::open(path, limits));
  reader->archive_ = archive_read_new();
  ::archive* a = reader->archive_;
  if (a == nullptr) return make_error(Errc::internal, "archive_read_new failed");
  if (archive_read_support_format_tar(a) != ARCHIVE_OK) {
    return make_error(Errc::internal, "libarchive lacks tar support");
  }
  Stream* stream = reader->stream_.get();
  int code = archive_read_open2(a, stream, nullptr, read_callback,
                                stream->can_skip() ? skip_callback : nullptr, nullptr);
  if (code != ARCHIVE_OK) return reader->failure(code, true);
  return reader;
}

Reader::~Reader() {
  if (archive_ != nullptr) archive_read_free(archive_);
}

Error Reader::failure(int code, bool header) {
  if (stream_->error()) return *stream_->error();
  std::string message = text_or_empty(archive_error_string(archive_));
  if (message.empty()) message = "libarchive status " + std::to_string(code);
  if (header && first_header_ && archive_errno(archive_) == kErrnoFileFormat) {
    return make_error(Errc::parse, "not a tar archive (" + message + ")");
  }
  return make_error(Errc::parse, "corrupt or truncated archive (" + message + ")");
}

Result<std::optional<RawHeader>> Reader::next() {
  archive_entry* entry = nullptr;
  stream_->begin_header();
  int code = archive_read_next_header(archive_, &entry);
  stream_->end_header();
  if (stream_->error()) return *stream_->error();
  if (code == ARCHIVE_EOF) return std::optional<RawHeader>{};
  if (code != ARCHIVE_OK && code != ARCHIVE_WARN) return failure(code, true);
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
  return std::optional<RawHeader>{std::move(header)};
}

Result<Reader::Block> Reader::read_block() {
  const void* data = nullptr;
  std::size_t size = 0;
  la_int64_t offset = 0;
  int code = archive_read_data_block(archive_, &data, &size, &offset);
  if (stream_->error()) return *stream_->error();
  if (code == ARCHIVE_EOF) {
    Block end;
    end.end = true;
    return end;
  }
  if (code != ARCHIVE_OK) return failure(code, false);
  Block block;
  block.data = static_cast<const char*>(data);
  block.size = size;
  block.offset = static_cast<std::uint64_t>(std::max<la_int64_t>(0, offset));
  return block;
}

Status Reader::skip_data() {
  if (stream_->can_skip()) {
    if (archive_read_data_skip(archive_) != ARCHIVE_OK) return failure(ARCHIVE_FATAL, false);
    return Ok{};
  }
  while (true) {
    PW_TRY_ASSIGN(Block block, read_block());
    if (block.end) return Ok{};
  }
}

Status Reader::drain_within(std::uint64_t size) {
  while (true) {
    PW_TRY_ASSIGN(Block block, read_block());
    if (block.end) return Ok{};
    if (block.offset > size || block.size > size - block.offset) {
      return make_error(Errc::parse, "data beyond the entry's size");
    }
  }
}

std::string Reader::format() const { return text_or_empty(archive_format_name(archive_)); }

}  // namespace pw::archive::detail
