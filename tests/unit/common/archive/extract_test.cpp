// Benign archives made by GNU tar extract byte-exact, as `tar -xf` extracts them (modes
// compared after clamping, owners ignored); the destination contract; limits that must
// not trip on legitimate archives and must trip on hostile ones.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <lzma.h>
#include <catch2/catch.hpp>

#include "common/archive/archive.hpp"
#include "tests/support/hostile_archives.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using pw::Errc;
using pw::test::Compression;
using pw::test::TarWriter;

namespace {

void run(const std::string& command) {
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

struct stat lstat_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info;
}

bool same_content(const std::string& a, const std::string& b) {
  std::ifstream x(a, std::ios::binary), y(b, std::ios::binary);
  std::string bx(1 << 20, '\0'), by(1 << 20, '\0');
  while (true) {
    x.read(bx.data(), static_cast<std::streamsize>(bx.size()));
    y.read(by.data(), static_cast<std::streamsize>(by.size()));
    if (x.gcount() != y.gcount()) return false;
    if (x.gcount() == 0) return true;
    if (bx.compare(0, static_cast<std::size_t>(x.gcount()), by, 0,
                   static_cast<std::size_t>(y.gcount())) != 0) {
      return false;
    }
  }
}

// Walks `reference` (GNU tar's result) and checks `mine` holds the same tree.
void compare_trees(const std::string& reference, const std::string& mine) {
  std::size_t count = 0;
  for (auto it = fs::recursive_directory_iterator(reference);
       it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = it->path().lexically_relative(reference).string();
    INFO(rel);
    struct stat ref = lstat_of(it->path().string());
    struct stat got = lstat_of(mine + "/" + rel);
    REQUIRE((ref.st_mode & S_IFMT) == (got.st_mode & S_IFMT));
    CHECK(got.st_uid == ::geteuid());
    if (S_ISLNK(ref.st_mode)) {
      CHECK(fs::read_symlink(it->path()) == fs::read_symlink(mine + "/" + rel));
    } else {
      CHECK((got.st_mode & 07777) == (ref.st_mode & 0775));
    }
    if (S_ISREG(ref.st_mode)) {
      CHECK(got.st_size == ref.st_size);
      CHECK(got.st_mtim.tv_sec == ref.st_mtim.tv_sec);
      CHECK(same_content(it->path().string(), mine + "/" + rel));
    }
    if (S_ISDIR(ref.st_mode)) CHECK(got.st_mtim.tv_sec == ref.st_mtim.tv_sec);
    ++count;
  }
  std::size_t mine_count = 0;
  for (auto it = fs::recursive_directory_iterator(mine); it != fs::recursive_directory_iterator();
       ++it) {
    ++mine_count;
  }
  CHECK(mine_count == count);
}

// A release-like tree: nested directories, in-tree symlinks (relative, to a sibling
// directory, chained), a hardlink, empty files and directories, odd modes and owners,
// a non-ASCII name, a sparse file and (optionally) a large one.
void make_tree(const std::string& src, bool large) {
  using pw::test::write_file;
  write_file(src + "/app/bin/run.sh", "#!/bin/sh\nexec ./server\n");
  fs::permissions(src + "/app/bin/run.sh", fs::perms(0755));
  write_file(src + "/app/lib/libx.so.1.2", pw::test::pattern_bytes(100000, 3));
  fs::create_symlink("libx.so.1.2", src + "/app/lib/libx.so.1");
  fs::create_symlink("libx.so.1", src + "/app/lib/libx.so");
  fs::create_symlink("../shared", src + "/app/current");
  fs::create_symlink("../../shared/data/config.json", src + "/app/bin/config.json");
  fs::create_hard_link(src + "/app/lib/libx.so.1.2", src + "/app/lib/copy.so");
  write_file(src + "/shared/data/config.json", "{\"port\": 8080}\n");
  write_file(src + "/shared/empty", "");
  fs::create_directories(src + "/shared/emptydir");
  write_file(src + "/docs/world-writable.txt", "clamped to 0664\n");
  fs::permissions(src + "/docs/world-writable.txt", fs::perms(0666));
  write_file(src + "/docs/private.txt", "0600\n");
  fs::permissions(src + "/docs/private.txt", fs::perms(0600));
  write_file(src + "/docs/caf\xc3\xa9.txt", "UTF-8 name\n");
  write_file(src + "/docs/readonly/file", "in a 0555 directory\n");
  write_file(src + "/deep/a/b/c/d/e/f/g/file", "deep\n");
  write_file(src + "/owned", "uid 12345\n");
  REQUIRE(::lchown((src + "/owned").c_str(), 12345, 54321) == 0);
  run("truncate -s 20M " + src + "/sparse && printf data | dd of=" + src +
      "/sparse bs=1 seek=10485760 conv=notrunc status=none");
  if (large) {
    std::ofstream out(src + "/big/blob.bin", std::ios::binary);
    for (std::uint32_t i = 0; i < 50; ++i) out << pw::test::pattern_bytes(1 << 20, i);
  }
  fs::permissions(src + "/docs/readonly", fs::perms(0555));
  fs::permissions(src + "/shared/emptydir", fs::perms(0777));  // clamped to 0775
}

}  // namespace

TEST_CASE("benign archives made by GNU tar extract as tar -xf extracts them", "[archive]") {
  auto [flag, compression] = GENERATE(table<std::string, std::string>(
      {{"", "none"}, {"-z", "gzip"}, {"-I 'xz -1 -T1'", "xz"}, {"--zstd", "zstd"}}));
  std::string format = GENERATE(std::string("gnu"), std::string("pax"));
  INFO(compression << " / " << format);
  pw::test::TempDir temp;
  fs::create_directories(temp / "big");
  make_tree(temp / "src", format == "gnu");
  std::string artifact = temp / "artifact";
  run("tar --format=" + format + " -S " + flag + " -C " + (temp / "src") + " -cf " + artifact +
      " .");
  fs::create_directories(temp / "ref");
  run("tar -xf " + artifact + " -C " + (temp / "ref"));

  auto extracted = pw::archive::extract(artifact, temp / "release");
  REQUIRE(extracted.ok());
  CHECK(extracted->path == fs::canonical(temp.path()).string() + "/release");
  compare_trees(temp / "ref", temp / "release");
  CHECK(lstat_of(temp / "release/app/lib/copy.so").st_ino ==
        lstat_of(temp / "release/app/lib/libx.so.1.2").st_ino);
  CHECK(lstat_of(temp / "release").st_uid == ::geteuid());
  for (const auto& entry : fs::directory_iterator(temp.path())) {
    CHECK(entry.path().filename().string().rfind(".release.staging-", 0) != 0);
  }

  auto report = pw::archive::inspect(artifact);
  REQUIRE(report.ok());
  CHECK(report->ok());
  CHECK(report->compression == compression);
  CHECK(report->format.find(format == "gnu" ? "GNU" : "POSIX pax") != std::string::npos);
  CHECK(report->symlinks == 4);
  CHECK(report->hardlinks == 1);
  CHECK(report->files == extracted->files);
  CHECK(report->total_bytes == extracted->bytes);
}

TEST_CASE("owners are ignored and modes clamped", "[archive]") {
  pw::test::TempDir temp;
  std::string artifact = temp / "a.tar";
  {
    TarWriter w(artifact, Compression::none);
    TarWriter::Header h;
    h.name = "root-owned";
    h.uid = 0;
    h.mode = 0777;
    h.size = 2;
    w.header(h);
    w.data("ok");
    w.pad();
    h.name = "odd-owner";
    h.uid = 1234567;
    h.gid = 7;
    h.mode = 0640;
    w.header(h);
    w.data("ok");
    w.pad();
    w.dir("setgid-dir/", 02775);
    w.dir("sticky-dir/", 01777);
    w.dir("closed/", 0500);
    w.file("closed/inside", "x", 0400);
    w.end();
    w.close();
  }
  auto extracted = pw::archive::extract(artifact, temp / "out");
  REQUIRE(extracted.ok());
  auto mode = [&](const std::string& name) {
    return lstat_of(temp / ("out/" + name)).st_mode & 07777;
  };
  CHECK(mode("root-owned") == 0775);
  CHECK(mode("odd-owner") == 0640);
  CHECK(mode("setgid-dir") == 0775);
  CHECK(mode("sticky-dir") == 0775);
  CHECK(mode("closed") == 0500);
  CHECK(mode("closed/inside") == 0400);
  CHECK(mode(".") == 0755);
  CHECK(lstat_of(temp / "out/root-owned").st_uid == ::geteuid());
  CHECK(lstat_of(temp / "out/odd-owner").st_uid == ::geteuid());
  CHECK(pw::test::read_file(temp / "out/closed/inside") == "x");
}

TEST_CASE("the destination must not exist and its parent must", "[archive]") {
  pw::test::TempDir temp;
  std::string artifact = temp / "a.tar";
  {
    TarWriter w(artifact, Compression::gzip);
    w.file("f", "x");
    w.end();
    w.close();
  }
  fs::create_directories(temp / "exists");
  pw::test::write_file(temp / "exists/keep", "keep");
  auto conflict = pw::archive::extract(artifact, temp / "exists");
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().code == Errc::conflict);
  CHECK(pw::test::read_file(temp / "exists/keep") == "keep");

  auto missing_parent = pw::archive::extract(artifact, temp / "no/such/dir");
  REQUIRE_FALSE(missing_parent.ok());
  CHECK(missing_parent.error().code == Errc::not_found);

  auto missing_artifact = pw::archive::extract(temp / "nope.tar", temp / "x");
  REQUIRE_FALSE(missing_artifact.ok());
  CHECK(missing_artifact.error().code == Errc::io);
  CHECK_FALSE(fs::exists(temp / "x"));
  CHECK_FALSE(pw::archive::inspect(temp / "nope.tar").ok());

  auto bad = pw::archive::extract(artifact, temp / "..");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::invalid_argument);

  auto ok = pw::archive::extract(artifact, temp / "fresh/");
  REQUIRE(ok.ok());
  CHECK(pw::test::read_file(temp / "fresh/f") == "x");
  CHECK(ok->files == 1);
  CHECK(ok->bytes == 1);
}

TEST_CASE("the ratio floor keeps small and very compressible archives legal", "[archive]") {
  pw::test::TempDir temp;
  for (auto compression : pw::test::kCompressions) {
    std::string artifact = temp / (std::string("a.") + pw::test::compression_name(compression));
    {
      TarWriter w(artifact, compression);
      w.file("README", "a few lines of text\n");
      w.file("zeros", std::string(1 << 20, '\0'));  // ratio ~1000 in gzip, far more in xz
      w.end();
      w.close();
    }
    auto report = pw::archive::inspect(artifact);
    REQUIRE(report.ok());
    CHECK(report->ok());
    REQUIRE(pw::archive::extract(
                artifact, temp / ("out-" + std::string(pw::test::compression_name(compression))))
                .ok());
  }
}

TEST_CASE("a decompression bomb stops early with default limits", "[archive]") {
  pw::test::TempDir temp;
  std::string artifact = temp / "bomb.tar.zst";
  {
    TarWriter w(artifact, Compression::zstd);
    TarWriter::Header h;
    h.name = "bomb";
    h.size = 8ull << 30;  // just under max_total_bytes
    h.size -= 4096;
    w.header(h);
    w.zeros(1ull << 30);  // the first GiB is enough to trip the ratio
    w.close();
  }
  CHECK(fs::file_size(artifact) < (1 << 20));
  auto extracted = pw::archive::extract(artifact, temp / "out");
  REQUIRE_FALSE(extracted.ok());
  CHECK(extracted.error().code == Errc::limit);
  CHECK(extracted.error().message.find("compression ratio above 200") != std::string::npos);
  CHECK_FALSE(fs::exists(temp / "out"));
}

TEST_CASE("an xz dictionary above the memory limit is refused before it is allocated",
          "[archive]") {
  pw::test::TempDir temp;
  std::string artifact = temp / "a.tar.xz";
  {
    TarWriter w(artifact, Compression::xz);
    w.file("f", "small");
    w.end();
    w.close();
  }
  REQUIRE(pw::archive::inspect(artifact)->ok());
  // Block header at offset 12: size, flags, then the LZMA2 filter (id 0x21, properties
  // size 1, dictionary byte), padding and CRC32. Dictionary byte 40 = 4 GiB - 1.
  std::string bytes = pw::test::read_file(artifact);
  std::size_t header_size = (static_cast<unsigned char>(bytes[12]) + 1u) * 4u;
  REQUIRE(bytes[14] == 0x21);
  REQUIRE(bytes[15] == 0x01);
  bytes[16] = 40;
  std::uint32_t crc =
      lzma_crc32(reinterpret_cast<const std::uint8_t*>(bytes.data() + 12), header_size - 4, 0);
  for (int i = 0; i < 4; ++i)
    bytes[12 + header_size - 4 + static_cast<std::size_t>(i)] = static_cast<char>(crc >> (8 * i));
  pw::test::write_file(artifact, bytes);

  auto extracted = pw::archive::extract(artifact, temp / "out");
  REQUIRE_FALSE(extracted.ok());
  CHECK(extracted.error().code == Errc::limit);
  CHECK(extracted.error().message.find("bytes of memory to decode") != std::string::npos);
  auto report = pw::archive::inspect(artifact);
  REQUIRE(report.ok());
  REQUIRE(report->violations.size() == 1);
  CHECK(report->violations[0].rule.find("more than the limit of 268435456") != std::string::npos);
}

TEST_CASE("nested compression is refused", "[archive]") {
  pw::test::TempDir temp;
  std::string inner = temp / "a.tar.gz";
  {
    TarWriter w(inner, Compression::gzip);
    w.file("f", "x");
    w.end();
    w.close();
  }
  run("gzip -c " + inner + " > " + (temp / "a.tar.gz.gz"));
  auto report = pw::archive::inspect(temp / "a.tar.gz.gz");
  REQUIRE(report.ok());
  REQUIRE(report->violations.size() == 1);
  CHECK(report->violations[0].rule.find("nested compression") != std::string::npos);
  auto extracted = pw::archive::extract(temp / "a.tar.gz.gz", temp / "out");
  REQUIRE_FALSE(extracted.ok());
  CHECK(extracted.error().code == Errc::parse);
}
