// Helpers shared by the source module's tests (source_test.cpp, dir_reader_test.cpp).
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/source/source.hpp"

namespace pw::test {

namespace source = pw::source;

inline std::unique_ptr<source::RepositoryReader> open_ok(const std::string& spec) {
  auto reader = source::open_reader(spec);
  INFO(spec << ": " << (reader.ok() ? std::string("ok") : reader.error().to_string()));
  REQUIRE(reader.ok());
  return std::move(reader).value();
}

inline std::string read_ok(source::RepositoryReader& reader, const std::string& path,
                           std::uint64_t max_bytes = 1 << 20) {
  auto content = reader.read(path, max_bytes);
  INFO(path << ": " << (content.ok() ? std::string("ok") : content.error().to_string()));
  REQUIRE(content.ok());
  return *content;
}

inline std::string commit_ok(const std::string& dir, const std::vector<std::string>& subdirs,
                             const std::string& message) {
  auto id = source::commit_paths(dir, subdirs, message);
  INFO((id.ok() ? std::string("ok") : id.error().to_string()));
  REQUIRE(id.ok());
  REQUIRE(id->size() == 40);
  return *id;
}

struct Chunks {
  std::vector<std::string> parts;
  std::string joined() const {
    std::string all;
    for (const auto& part : parts) all += part;
    return all;
  }
};

inline pw::Status stream_into(source::RepositoryReader& reader, const std::string& path,
                              std::uint64_t max_bytes, Chunks& chunks) {
  return reader.stream(path, max_bytes, [&chunks](std::string_view chunk) -> pw::Status {
    chunks.parts.emplace_back(chunk);
    return pw::Ok{};
  });
}

inline std::string big_content(std::size_t size) {
  std::string content(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    content[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return content;
}

}  // namespace pw::test
