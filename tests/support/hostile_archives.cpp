// TarWriter: tar headers byte by byte, compressed through libarchive's raw format.
#include "tests/support/hostile_archives.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace pw::test {
namespace {

constexpr std::size_t kBlock = 512;

void check(::archive* a, int code, const std::string& what) {
  if (code != ARCHIVE_OK) {
    const char* message = archive_error_string(a);
    throw std::runtime_error(what + ": " + (message != nullptr ? message : "failed"));
  }
}

// `width` bytes: width-1 octal digits and a NUL.
void put_octal(char* field, std::size_t width, std::uint64_t value) {
  std::string digits(width - 1, '0');
  for (std::size_t i = width - 1; i-- > 0;) {
    digits[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  if (value != 0) throw std::runtime_error("value too large for an octal field");
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
}

// Sizes of 8 GiB and more use GNU's base-256 form, which libarchive and GNU tar read.
void put_size(char* field, std::uint64_t size) {
  if (size < (1ull << 33)) {
    put_octal(field, 12, size);
    return;
  }
  std::memset(field, 0, 12);
  field[0] = static_cast<char>(0x80);
  for (int i = 11; i >= 4; --i) {
    field[i] = static_cast<char>(size & 0xFF);
    size >>= 8;
  }
}

void put_text(char* field, std::size_t width, const std::string& text) {
  if (text.size() > width) throw std::runtime_error("field too long: " + text);
  std::memcpy(field, text.data(), text.size());
}

}  // namespace

const char* compression_name(Compression compression) {
  switch (compression) {
    case Compression::none:
      return "none";
    case Compression::gzip:
      return "gzip";
    case Compression::xz:
      return "xz";
    case Compression::zstd:
      return "zstd";
  }
  return "?";
}

TarWriter::TarWriter(const std::string& path, Compression compression) {
  archive_ = archive_write_new();
  if (archive_ == nullptr) throw std::runtime_error("archive_write_new failed");
  check(archive_, archive_write_set_format_raw(archive_), "raw format");
  switch (compression) {
    case Compression::none:
      check(archive_, archive_write_add_filter_none(archive_), "no filter");
      break;
    case Compression::gzip:
      check(archive_, archive_write_add_filter_gzip(archive_), "gzip filter");
      break;
    case Compression::xz:
      check(archive_, archive_write_add_filter_xz(archive_), "xz filter");
      check(archive_, archive_write_set_filter_option(archive_, "xz", "compression-level", "1"),
            "xz level");
      break;
    case Compression::zstd:
      check(archive_, archive_write_add_filter_zstd(archive_), "zstd filter");
      break;
  }
  check(archive_, archive_write_set_bytes_per_block(archive_, 0), "unblocked output");
  check(archive_, archive_write_open_filename(archive_, path.c_str()), "open " + path);
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, "data");
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  int code = archive_write_header(archive_, entry);
  archive_entry_free(entry);
  check(archive_, code, "raw header");
}

TarWriter::~TarWriter() {
  if (archive_ != nullptr) archive_write_free(archive_);
}

void TarWriter::close() {
  if (archive_ == nullptr) return;
  int code = archive_write_close(archive_);
  std::string message =
      archive_error_string(archive_) != nullptr ? archive_error_string(archive_) : "";
  archive_write_free(archive_);
  archive_ = nullptr;
  if (code != ARCHIVE_OK) throw std::runtime_error("closing the archive: " + message);
}

void TarWriter::write(const char* data, std::size_t size) {
  while (size > 0) {
    la_ssize_t n = archive_write_data(archive_, data, size);
    if (n <= 0) check(archive_, ARCHIVE_FATAL, "write");
    data += n;
    size -= static_cast<std::size_t>(n);
    written_ += static_cast<std::uint64_t>(n);
  }
}

void TarWriter::header(const Header& h) {
  std::array<char, kBlock> block{};
  char* b = block.data();
  if (h.name.size() <= 100) {
    put_text(b, 100, h.name);
  } else {
    // ustar: prefix (155) '/' name (100)
    std::size_t split = h.name.rfind('/', 155);
    if (split == std::string::npos || h.name.size() - split - 1 > 100 || split == 0) {
      throw std::runtime_error("name does not fit a ustar header: " + h.name);
    }
    put_text(b, 100, h.name.substr(split + 1));
    put_text(b + 345, 155, h.name.substr(0, split));
  }
  put_octal(b + 100, 8, h.mode);
  put_octal(b + 108, 8, h.uid);
  put_octal(b + 116, 8, h.gid);
  put_size(b + 124, h.size);
  put_octal(b + 136, 12, static_cast<std::uint64_t>(h.mtime));
  b[156] = h.type;
  put_text(b + 157, 100, h.link);
  if (h.gnu_magic) {
    std::memcpy(b + 257, "ustar  ", 8);
  } else {
    std::memcpy(b + 257, "ustar", 6);
    std::memcpy(b + 263, "00", 2);
  }
  put_text(b + 265, 32, "user");
  put_text(b + 297, 32, "group");
  put_octal(b + 329, 8, h.dev_major);
  put_octal(b + 337, 8, h.dev_minor);
  std::memset(b + 148, ' ', 8);
  unsigned sum = 0;
  for (char c : block) sum += static_cast<unsigned char>(c);
  put_octal(b + 148, 7, sum);
  b[155] = ' ';
  write(b, kBlock);
}

void TarWriter::data(std::string_view bytes) { write(bytes.data(), bytes.size()); }

void TarWriter::zeros(std::uint64_t count) {
  static const std::string chunk(1 << 20, '\0');
  while (count > 0) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(count, chunk.size()));
    write(chunk.data(), n);
    count -= n;
  }
}

void TarWriter::pad() {
  std::size_t rest = static_cast<std::size_t>(written_ % kBlock);
  if (rest != 0) zeros(kBlock - rest);
}

void TarWriter::file(const std::string& name, std::string_view content, std::uint32_t mode) {
  Header h;
  h.name = name;
  h.size = content.size();
  h.mode = mode;
  header(h);
  data(content);
  pad();
}

void TarWriter::dir(const std::string& name, std::uint32_t mode) {
  Header h;
  h.name = name;
  h.type = '5';
  h.mode = mode;
  header(h);
}

void TarWriter::symlink(const std::string& name, const std::string& target) {
  Header h;
  h.name = name;
  h.type = '2';
  h.mode = 0777;
  h.link = target;
  header(h);
}

void TarWriter::hardlink(const std::string& name, const std::string& target) {
  Header h;
  h.name = name;
  h.type = '1';
  h.link = target;
  header(h);
}

void TarWriter::gnu_long_name(const std::string& name) {
  Header h;
  h.name = "././@LongLink";
  h.type = 'L';
  h.size = name.size() + 1;
  h.gnu_magic = true;
  header(h);
  data(name);
  data(std::string_view("\0", 1));
  pad();
}

void TarWriter::pax(const std::vector<std::pair<std::string, std::string>>& records) {
  std::string body;
  for (const auto& [key, value] : records) {
    std::string rest = " " + key + "=" + value + "\n";
    std::size_t length = rest.size() + 1;
    while (std::to_string(length).size() + rest.size() != length) ++length;
    body += std::to_string(length) + rest;
  }
  Header h;
  h.name = "PaxHeader/entry";
  h.type = 'x';
  h.size = body.size();
  header(h);
  data(body);
  pad();
}

void TarWriter::end() { zeros(2 * kBlock); }

void TarWriter::raw(std::string_view bytes) { data(bytes); }

std::string pattern_bytes(std::size_t size, std::uint32_t seed) {
  // Words from a small vocabulary: text-like, compresses a few times, never degenerate.
  static const char* const words[] = {"patch ",   "wave ",   "release ", "server ", "agent ",
                                      "rollout ", "canary ", "tarball ", "\n",      "0123 "};
  std::string out;
  out.reserve(size + 16);
  std::uint32_t state = seed * 2654435761u + 1;
  while (out.size() < size) {
    state = state * 1664525u + 1013904223u;
    out += words[(state >> 24) % 10];
  }
  out.resize(size);
  return out;
}

std::string random_bytes(std::size_t size, std::uint32_t seed) {
  std::string out(size, '\0');
  std::uint64_t state = 0x9E3779B97F4A7C15ull ^ seed;
  for (auto& c : out) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    c = static_cast<char>(state >> 56);
  }
  return out;
}

void write_case(const HostileCase& hostile, Compression compression, const std::string& path) {
  {
    TarWriter writer(path, compression);
    hostile.build(writer);
    writer.close();
  }
  if (hostile.damage) hostile.damage(path, compression);
}

}  // namespace pw::test
