// The directory reader (source/directory_reader.cpp): reads, streams, limits, and what it
// refuses - unsafe paths, symlinks leading outside, special files.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "orchestrator/source/source.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/orchestrator/source/reader_helpers.hpp"

namespace {

using pw::Errc;
using pw::test::big_content;
using pw::test::Chunks;
using pw::test::open_ok;
using pw::test::read_ok;
using pw::test::stream_into;
using pw::test::TempDir;
using pw::test::write_file;
namespace source = pw::source;

}  // namespace

TEST_CASE("directory reader reads files, streams and describes itself", "[source][dir]") {
  TempDir tmp;
  const std::string dir = tmp / "plain";
  write_file(dir + "/metadata/root.json", "plain root");
  const std::string content = big_content((5u << 20) / 2 + 7);
  write_file(dir + "/targets/big.bin", content);
  write_file(dir + "/targets/empty.bin", "");

  auto reader = open_ok(dir);
  CHECK(reader->description() == "directory " + dir);
  CHECK(reader->revision() == "");
  CHECK(read_ok(*reader, "metadata/root.json") == "plain root");
  CHECK(read_ok(*reader, "metadata/root.json", 10) == "plain root");
  CHECK(read_ok(*reader, "targets/empty.bin", 0).empty());
  CHECK(read_ok(*reader, "targets/big.bin", content.size()) == content);

  Chunks chunks;
  REQUIRE(stream_into(*reader, "targets/big.bin", content.size(), chunks).ok());
  CHECK(chunks.parts.size() >= 3);
  for (const auto& part : chunks.parts) CHECK(part.size() <= (1u << 20));
  CHECK(chunks.joined() == content);

  auto direct = source::open_directory(dir);
  REQUIRE(direct.ok());
  CHECK(read_ok(**direct, "metadata/root.json") == "plain root");
}

TEST_CASE("directory reader: missing files, directories, limits", "[source][dir]") {
  TempDir tmp;
  const std::string dir = tmp / "plain";
  write_file(dir + "/metadata/root.json", "plain root");  // 10 bytes
  const std::string content = big_content(3u << 20);
  write_file(dir + "/targets/big.bin", content);
  auto reader = open_ok(dir);

  auto missing = reader->read("metadata/nope.json", 100);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains("metadata/nope.json"));

  auto through_file = reader->read("metadata/root.json/x", 100);
  REQUIRE_FALSE(through_file.ok());
  CHECK(through_file.error().code == Errc::not_found);

  auto directory = reader->read("metadata", 100);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code == Errc::not_found);

  auto too_big = reader->read("metadata/root.json", 9);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == Errc::limit);

  Chunks chunks;
  auto limited = stream_into(*reader, "targets/big.bin", content.size() - 1, chunks);
  REQUIRE_FALSE(limited.ok());
  CHECK(limited.error().code == Errc::limit);
  std::uint64_t seen = 0;
  for (const auto& part : chunks.parts) seen += part.size();
  CHECK(seen <= content.size() - 1);

  // The sink's error is returned.
  auto stopped = reader->stream("targets/big.bin", content.size(), [](std::string_view) {
    return pw::Status(pw::make_error(Errc::io, "sink full"));
  });
  REQUIRE_FALSE(stopped.ok());
  CHECK(stopped.error().message == "sink full");
}

TEST_CASE("directory reader refuses unsafe paths", "[source][dir]") {
  TempDir tmp;
  const std::string dir = tmp / "plain/inner";
  write_file(dir + "/a/b", "b");
  write_file(tmp / "plain/secret", "secret");
  auto reader = open_ok(dir);
  for (const std::string& path : std::vector<std::string>{"../secret", "/etc/passwd", "a/../b",
                                                          "a//b", "", "a/", "./a/b", "a\\b"}) {
    auto content = reader->read(path, 100);
    INFO(path);
    REQUIRE_FALSE(content.ok());
    CHECK(content.error().code == Errc::invalid_argument);
    Chunks chunks;
    auto streamed = stream_into(*reader, path, 100, chunks);
    REQUIRE_FALSE(streamed.ok());
    CHECK(streamed.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("directory reader refuses symlinks leading outside, follows those inside",
          "[source][dir]") {
  TempDir tmp;
  const std::string dir = tmp / "plain";
  write_file(dir + "/metadata/root.json", "root");
  write_file(tmp / "outside.txt", "outside");
  std::filesystem::create_symlink(tmp / "outside.txt", dir + "/metadata/abs-out.json");
  std::filesystem::create_symlink("../../outside.txt", dir + "/metadata/rel-out.json");
  std::filesystem::create_symlink(tmp.path(), dir + "/up");
  std::filesystem::create_symlink("root.json", dir + "/metadata/alias.json");
  std::filesystem::create_symlink("metadata", dir + "/meta");
  std::filesystem::create_symlink("nowhere", dir + "/metadata/dangling.json");
  std::filesystem::create_symlink("loop.json", dir + "/metadata/loop.json");

  auto reader = open_ok(dir);
  for (const std::string& path : std::vector<std::string>{
           "metadata/abs-out.json", "metadata/rel-out.json", "up/outside.txt"}) {
    auto content = reader->read(path, 100);
    INFO(path);
    REQUIRE_FALSE(content.ok());
    CHECK(content.error().code == Errc::invalid_argument);
    CHECK_THAT(content.error().message, Catch::Contains("outside"));
    Chunks chunks;
    auto streamed = stream_into(*reader, path, 100, chunks);
    REQUIRE_FALSE(streamed.ok());
    CHECK(chunks.parts.empty());
  }
  CHECK(read_ok(*reader, "metadata/alias.json") == "root");
  CHECK(read_ok(*reader, "meta/root.json") == "root");

  auto dangling = reader->read("metadata/dangling.json", 100);
  REQUIRE_FALSE(dangling.ok());
  CHECK(dangling.error().code == Errc::not_found);
  auto loop = reader->read("metadata/loop.json", 100);
  REQUIRE_FALSE(loop.ok());
  CHECK(loop.error().code == Errc::invalid_argument);

  // The root itself may be reached through a symlink.
  std::filesystem::create_symlink(dir, tmp / "root-link");
  auto via_link = open_ok(tmp / "root-link");
  CHECK(read_ok(*via_link, "metadata/root.json") == "root");
  auto still_out = via_link->read("metadata/abs-out.json", 100);
  REQUIRE_FALSE(still_out.ok());
  CHECK(still_out.error().code == Errc::invalid_argument);
}

TEST_CASE("directory reader refuses special files without blocking", "[source][dir]") {
  TempDir tmp;
  const std::string dir = tmp / "plain";
  write_file(dir + "/metadata/root.json", "root");
  REQUIRE(::mkfifo((dir + "/metadata/fifo").c_str(), 0600) == 0);
  auto reader = open_ok(dir);
  auto fifo = reader->read("metadata/fifo", 100);
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.error().code == Errc::not_found);
  CHECK_THAT(fifo.error().message, Catch::Contains("not a regular file"));
}
