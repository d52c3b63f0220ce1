// PipelinedWriter (buffers lent in place, stages on their own threads) and PartFile
// (direct writes of aligned blocks, the page cache for the rest).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <mutex>
#include <string>

#include "agents/daemon/part_file.hpp"
#include "agents/daemon/pipeline.hpp"
#include "tests/support/temp_dir.hpp"

using pw::agent::PartFile;
using pw::agent::PipelinedWriter;

namespace {

std::string pattern(std::size_t size, std::size_t seed = 0) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return out;
}

}  // namespace

TEST_CASE("agent pipeline: lent buffers are aligned, and every stage sees every chunk in order") {
  std::string first, second;
  std::mutex mutex;
  std::vector<std::string> order;
  PipelinedWriter writer({[&](std::string_view chunk) {
                            first.append(chunk);
                            std::lock_guard lock(mutex);
                            order.push_back("1");
                            return pw::Status(pw::Ok{});
                          },
                          [&](std::string_view chunk) {
                            second.append(chunk);
                            std::lock_guard lock(mutex);
                            order.push_back("2");
                            return pw::Status(pw::Ok{});
                          }},
                         3, 5000);
  CHECK(writer.buffer_bytes() == 8192);  // rounded up to the alignment
  std::string expected;
  for (std::size_t i = 0; i < 20; ++i) {
    auto buffer = writer.acquire();
    REQUIRE(buffer.ok());
    CHECK(reinterpret_cast<std::uintptr_t>(buffer->data()) % PipelinedWriter::kAlignment == 0);
    std::string piece = pattern(100 + i * 300, i);
    std::memcpy(buffer->data(), piece.data(), piece.size());
    expected += piece;
    REQUIRE(writer.commit(piece.size()).ok());
  }
  REQUIRE(writer.push(pattern(20000, 7)).ok());  // copied, split into buffer-sized pieces
  expected += pattern(20000, 7);
  REQUIRE(writer.finish().ok());
  CHECK(first == expected);
  CHECK(second == expected);
  CHECK(order.size() == 2 * 23);
}

TEST_CASE("agent pipeline: a stage's error stops the later stages and reaches the producer") {
  std::string written;
  int calls = 0;
  PipelinedWriter writer({[&](std::string_view) {
                            return ++calls == 2 ? pw::Status(pw::make_error(pw::Errc::io, "disk"))
                                                : pw::Status(pw::Ok{});
                          },
                          [&](std::string_view chunk) {
                            written.append(chunk);
                            return pw::Status(pw::Ok{});
                          }},
                         2, 4096);
  pw::Status status = pw::Ok{};
  for (int i = 0; i < 50 && status.ok(); ++i) status = writer.push(pattern(4096, 1));
  if (status.ok()) status = writer.finish();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message == "disk");
  CHECK(written.size() <= 4096);  // nothing after the chunk that failed
  CHECK_FALSE(writer.acquire().ok());
}

TEST_CASE("agent pipeline: a buffer given back unused is not consumed") {
  int calls = 0;
  PipelinedWriter writer([&](std::string_view) {
    ++calls;
    return pw::Status(pw::Ok{});
  });
  REQUIRE(writer.acquire().ok());
  CHECK_FALSE(writer.acquire().ok());  // one at a time
  REQUIRE(writer.commit(0).ok());
  REQUIRE(writer.finish().ok());
  CHECK(calls == 0);
}

TEST_CASE(
    "agent download: a part file holds exactly what was appended, aligned or not, across "
    "reopenings") {
  pw::test::TempDir dir;
  std::string path = dir / "x.part";
  PipelinedWriter buffers([](std::string_view) { return pw::Status(pw::Ok{}); }, 2, 1u << 16);
  std::string expected;
  auto append_lent = [&](PartFile& file, std::size_t size, std::size_t seed) {
    auto buffer = buffers.acquire();  // aligned memory, as in a download
    REQUIRE(buffer.ok());
    std::string piece = pattern(size, seed);
    std::memcpy(buffer->data(), piece.data(), size);
    REQUIRE(file.append(std::string_view(buffer->data(), size)).ok());
    REQUIRE(buffers.commit(0).ok());
    expected += piece;
  };
  {
    auto file = PartFile::open(path);
    REQUIRE(file.ok());
    CHECK(file->to_alignment() == 0);
    append_lent(*file, 3 * PartFile::kBlock, 1);     // direct where supported
    append_lent(*file, PartFile::kBlock + 1000, 2);  // direct, then 1000 bytes cached
    CHECK(file->end() == expected.size());
    CHECK(file->to_alignment() == PartFile::kBlock - 1000);
  }
  {
    // A resumed download: the end is unaligned until the first chunk fills the block.
    auto file = PartFile::open(path);
    REQUIRE(file.ok());
    file->seek_end(expected.size());
    append_lent(*file, file->to_alignment(), 3);
    CHECK(file->to_alignment() == 0);
    append_lent(*file, 5 * PartFile::kBlock, 4);
    std::string unaligned = pattern(777, 5);  // memory not aligned: cached
    REQUIRE(file->append(unaligned).ok());
    expected += unaligned;
  }
  CHECK(pw::test::read_file(path) == expected);
}

TEST_CASE("agent download: a part file is created private and never through a symlink") {
  pw::test::TempDir dir;
  REQUIRE(::symlink((dir / "elsewhere").c_str(), (dir / "link.part").c_str()) == 0);
  auto linked = PartFile::open(dir / "link.part");
  REQUIRE_FALSE(linked.ok());
  CHECK_THAT(linked.error().to_string(), Catch::Contains("link.part"));
  auto file = PartFile::open(dir / "x.part");
  REQUIRE(file.ok());
  struct stat info {};
  REQUIRE(::stat((dir / "x.part").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}
