#include "common/archive/stream.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace pw::archive::detail {
namespace {

constexpr std::size_t kChunk = 64 << 10;        // decompressed bytes per callback
constexpr std::size_t kPlainChunk = 256 << 10;  // uncompressed files: bytes per read

bool starts_with(const unsigned char* head, std::size_t size,
                 std::initializer_list<unsigned char> magic) {
  return size >= magic.size() && std::equal(magic.begin(), magic.end(), head);
}

std::string text_or_empty(const char* text) { return text != nullptr ? text : ""; }

Error corrupt(const std::string& what) {
  return make_error(Errc::parse, "corrupt or truncated archive (" + what + ")");
}

}  // namespace

struct Stream::Xz {
  lzma_stream lzma = LZMA_STREAM_INIT;
  bool ready = false;
  bool input_eof = false;
  bool end = false;
  std::vector<unsigned char> input = std::vector<unsigned char>(kChunk);

  ~Xz() {
    if (ready) lzma_end(&lzma);
  }
};

Result<std::unique_ptr<Stream>> Stream::open(const std::string& path, const Limits& limits) {
  std::unique_ptr<Stream> s(new Stream());
  s->limits_ = limits;
  s->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (s->fd_ < 0) return make_error(Errc::io, "cannot open " + path + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(s->fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
    return make_error(Errc::io, path + " is not a regular file");
  }
  s->file_size_ = static_cast<std::uint64_t>(info.st_size);
  (void)::posix_fadvise(s->fd_, 0, 0, POSIX_FADV_SEQUENTIAL);

  unsigned char head[6] = {};
  ssize_t got = ::pread(s->fd_, head, sizeof head, 0);
  auto size = static_cast<std::size_t>(std::max<ssize_t>(got, 0));
  if (starts_with(head, size, {0xFD, '7', 'z', 'X', 'Z', 0x00})) {
    s->kind_ = Kind::xz;
    s->compression_ = "xz";
    s->xz_ = std::make_unique<Xz>();
    if (lzma_stream_decoder(&s->xz_->lzma, limits.xz_memory_limit, LZMA_CONCATENATED) != LZMA_OK) {
      return make_error(Errc::internal, "cannot start the xz decoder");
    }
    s->xz_->ready = true;
    s->buffer_.resize(kChunk);
  } else if (starts_with(head, size, {0x1F, 0x8B}) ||
             starts_with(head, size, {0x28, 0xB5, 0x2F, 0xFD})) {
    s->kind_ = Kind::libarchive;
    s->buffer_.resize(kChunk);
    s->inner_ = archive_read_new();
    ::archive* a = s->inner_;
    if (a == nullptr) return make_error(Errc::internal, "archive_read_new failed");
    if (archive_read_support_format_raw(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(a) != ARCHIVE_OK) {
      return make_error(Errc::internal, "libarchive lacks gzip or zstd support: " +
                                            text_or_empty(archive_error_string(a)));
    }
    archive_entry* entry = nullptr;
    if (archive_read_open_fd(a, s->fd_, kChunk) != ARCHIVE_OK ||
        archive_read_next_header(a, &entry) != ARCHIVE_OK) {
      return corrupt(text_or_empty(archive_error_string(a)));
    }
    if (archive_filter_count(a) > 2) {
      return make_error(Errc::parse, "nested compression (" +
                                         text_or_empty(archive_filter_name(a, 0)) + " inside " +
                                         text_or_empty(archive_filter_name(a, 1)) + ")");
    }
    int code = archive_filter_code(a, 0);
    if (code != ARCHIVE_FILTER_GZIP && code != ARCHIVE_FILTER_ZSTD) {
      return corrupt("damaged compression header");
    }
    s->compression_ = code == ARCHIVE_FILTER_GZIP ? "gzip" : "zstd";
  } else {
    s->buffer_.resize(kPlainChunk);
  }
  return s;
}

Stream::~Stream() {
  if (inner_ != nullptr) archive_read_free(inner_);
  if (fd_ >= 0) ::close(fd_);
}

void Stream::begin_header() {
  in_header_ = true;
  header_start_ = delivered_;
}

long Stream::fail(Error error) {
  if (!error_) error_ = std::move(error);
  return -1;
}

long Stream::read_file(unsigned char* into, std::size_t size) {
  while (true) {
    ssize_t n = ::read(fd_, into, size);
    if (n >= 0) {
      file_read_ += static_cast<std::uint64_t>(n);
      return n;
    }
    if (errno != EINTR) {
      return fail(
          make_error(Errc::io, std::string("reading the archive: ") + std::strerror(errno)));
    }
  }
}

long Stream::deliver(const void* data, std::size_t size, const void** buffer) {
  *buffer = data;
  delivered_ += size;
  if (in_header_ && delivered_ - header_start_ > kHeaderBudget) {
    return fail(make_error(Errc::limit, "a header takes more than " +
                                            std::to_string(kHeaderBudget) +
                                            " bytes (PAX records, long names or a sparse map)"));
  }
  if (kind_ != Kind::plain) {
    auto compressed =
        kind_ == Kind::xz
            ? file_read_
            : static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_filter_bytes(inner_, -1)));
    std::uint64_t base = std::max(compressed, kRatioFloorBytes);
    if (limits_.max_ratio <= UINT64_MAX / base && delivered_ > limits_.max_ratio * base) {
      return fail(make_error(Errc::limit, "compression ratio above " +
                                              std::to_string(limits_.max_ratio) + " (" +
                                              std::to_string(delivered_) + " bytes unpacked from " +
                                              std::to_string(compressed) + " compressed)"));
    }
  }
  return static_cast<long>(size);
}

long Stream::read(const void** buffer) {
  *buffer = buffer_.data();
  if (error_) return -1;
  switch (kind_) {
    case Kind::plain: {
      long n = read_file(buffer_.data(), buffer_.size());
      return n < 0 ? n : deliver(buffer_.data(), static_cast<std::size_t>(n), buffer);
    }
    case Kind::libarchive: {
      la_ssize_t n = archive_read_data(inner_, buffer_.data(), buffer_.size());
      if (n < 0) return fail(corrupt(text_or_empty(archive_error_string(inner_))));
      return deliver(buffer_.data(), static_cast<std::size_t>(n), buffer);
    }
    case Kind::xz:
      break;
  }
  Xz& xz = *xz_;
  if (xz.end) return 0;
  while (true) {
    if (xz.lzma.avail_in == 0 && !xz.input_eof) {
      long n = read_file(xz.input.data(), xz.input.size());
      if (n < 0) return n;
      if (n == 0) xz.input_eof = true;
      xz.lzma.next_in = xz.input.data();
      xz.lzma.avail_in = static_cast<std::size_t>(n);
    }
    xz.lzma.next_out = buffer_.data();
    xz.lzma.avail_out = buffer_.size();
    lzma_ret code = lzma_code(&xz.lzma, xz.input_eof ? LZMA_FINISH : LZMA_RUN);
    std::size_t produced = buffer_.size() - xz.lzma.avail_out;
    if (code == LZMA_STREAM_END) {
      xz.end = true;
      return deliver(buffer_.data(), produced, buffer);
    }
    switch (code) {
      case LZMA_OK:
        break;
      case LZMA_MEMLIMIT_ERROR:
        return fail(make_error(Errc::limit, "the xz stream needs " +
                                                std::to_string(lzma_memusage(&xz.lzma)) +
                                                " bytes of memory to decode, more than the limit "
                                                "of " +
                                                std::to_string(lzma_memlimit_get(&xz.lzma))));
      case LZMA_BUF_ERROR:
        return fail(corrupt("truncated xz stream"));
      case LZMA_MEM_ERROR:
        return fail(make_error(Errc::io, "out of memory decoding xz"));
      case LZMA_OPTIONS_ERROR:
        return fail(corrupt("unsupported xz options"));
      default:
        return fail(corrupt("corrupt xz data"));
    }
    if (produced > 0) return deliver(buffer_.data(), produced, buffer);
  }
}

std::int64_t Stream::skip(std::int64_t request) {
  if (kind_ != Kind::plain || request <= 0 || file_read_ >= file_size_) return 0;
  auto amount = std::min(static_cast<std::uint64_t>(request), file_size_ - file_read_);
  if (::lseek(fd_, static_cast<off_t>(amount), SEEK_CUR) < 0) return 0;
  file_read_ += amount;
  return static_cast<std::int64_t>(amount);
}

}  // namespace pw::archive::detail
