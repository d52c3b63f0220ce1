// The download's write path: the pipeline hands over whole page-aligned buffers, and
// PartFile writes them around the page cache where it can, byte-exact in every case.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "agents/daemon/part_file.hpp"
#include "agents/daemon/pipeline.hpp"
#include "tests/support/temp_dir.hpp"

using pw::agent::kPageAlignment;
using pw::agent::PartFile;
using pw::agent::PipelinedWriter;

namespace {

std::string pattern(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

}  // namespace

TEST_CASE("the pipeline hands over full page-aligned buffers, in order, then the rest") {
  std::vector<std::size_t> sizes;
  std::vector<bool> aligned;
  std::string seen;
  const std::string data = pattern(3 * 8192 + 100, 1);
  {
    PipelinedWriter writer(
        [&](std::string_view chunk) -> pw::Status {
          sizes.push_back(chunk.size());
          aligned.push_back(reinterpret_cast<std::uintptr_t>(chunk.data()) % kPageAlignment == 0);
          seen.append(chunk);
          return pw::Ok{};
        },
        2, 8192);
    // Pieces of odd sizes, as TLS records arrive.
    for (std::size_t at = 0; at < data.size(); at += 1000) {
      REQUIRE(writer.push(std::string_view(data).substr(at, 1000)).ok());
    }
    REQUIRE(writer.finish().ok());
  }
  CHECK(seen == data);
  CHECK(sizes == std::vector<std::size_t>{8192, 8192, 8192, 100});
  CHECK(aligned == std::vector<bool>{true, true, true, true});
}

TEST_CASE("the pipeline's first consumer error stops it and is returned") {
  int calls = 0;
  PipelinedWriter writer(
      [&](std::string_view) -> pw::Status {
        ++calls;
        return pw::make_error(pw::Errc::io, "disk full");
      },
      2, 4096);
  pw::Status status = pw::Ok{};
  const std::string block(4096, 'x');
  for (int i = 0; i < 10 && status.ok(); ++i) status = writer.push(block);
  if (status.ok()) status = writer.finish();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message == "disk full");
  CHECK(writer.finish().error().message == "disk full");
  CHECK(calls == 1);
}

TEST_CASE("a part file holds exactly what was written, direct or not") {
  pw::test::TempDir disk;  // $TMPDIR: a disk filesystem here (O_DIRECT), or tmpfs (not)
  for (const std::string& dir : {disk.path(), std::string("/dev/shm")}) {
    SECTION(dir) {
      std::string path = dir + "/part-file-test-" + std::to_string(::getpid()) + ".part";
      ::unlink(path.c_str());
      const std::string data = pattern(5 * kPageAlignment + 123, 2);
      {
        auto file = PartFile::open(path);
        REQUIRE(file.ok());
        // Page-aligned memory, as the pipeline's buffers are: whole pages go direct.
        void* memory = std::aligned_alloc(kPageAlignment, 4 * kPageAlignment);
        REQUIRE(memory != nullptr);
        std::memcpy(memory, data.data(), 4 * kPageAlignment);
        CHECK(file->write_at(0, std::string_view(static_cast<char*>(memory), 4 * kPageAlignment))
                  .ok());
        std::free(memory);
        // The rest from ordinary memory at a page offset, then an odd tail.
        CHECK(file->write_at(4 * kPageAlignment,
                             std::string_view(data).substr(4 * kPageAlignment, kPageAlignment))
                  .ok());
        CHECK(file->write_at(5 * kPageAlignment, std::string_view(data).substr(5 * kPageAlignment))
                  .ok());
      }
      CHECK(pw::test::read_file(path) == data);

      // Reopened to resume: cut back to whole pages, the odd tail is fetched again.
      {
        auto file = PartFile::open(path);
        REQUIRE(file.ok());
        struct stat info {};
        REQUIRE(::fstat(file->fd(), &info) == 0);
        CHECK(static_cast<std::size_t>(info.st_size) == 5 * kPageAlignment);
        CHECK(file->write_at(5 * kPageAlignment, std::string_view(data).substr(5 * kPageAlignment))
                  .ok());
      }
      CHECK(pw::test::read_file(path) == data);
      struct stat info {};
      REQUIRE(::stat(path.c_str(), &info) == 0);
      CHECK((info.st_mode & 0777) == 0600);
      ::unlink(path.c_str());
    }
  }
}

TEST_CASE("a part file refuses to follow a symlink") {
  pw::test::TempDir dir;
  pw::test::write_file(dir / "target", "x");
  REQUIRE(::symlink((dir / "target").c_str(), (dir / "link.part").c_str()) == 0);
  auto file = PartFile::open(dir / "link.part");
  REQUIRE_FALSE(file.ok());
  CHECK(file.error().code == pw::Errc::io);
  CHECK_THAT(file.error().message, Catch::Contains("link.part"));
}
