// libFuzzer target for the archive reader and extractor: the input is the artifact.
// inspect() and extract() run on it under one per-process root (on /dev/shm when there
// is one, where syncfs costs nothing). Nothing may crash, leak or hang, and afterwards:
//  - nothing outside the destination was created or changed (a canary file, an empty
//    sibling directory, no leftover staging directory);
//  - every symlink of an extracted tree that resolves, resolves inside it;
//  - inspect() and extract() agree on whether the archive is acceptable.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "common/archive/archive.hpp"

namespace fs = std::filesystem;

namespace {

constexpr const char* kCanary = "canary: must never change\n";

struct Root {
  std::string base, artifact, work, destination, outside, canary;
};

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "fuzz_archive: %s\n", why.c_str());
  std::abort();
}

// Never destroyed: the atexit cleanup below needs it after static destructors ran.
const Root& root() {
  static const Root* const r = [] {
    std::string dir =
        fs::is_directory("/dev/shm") ? "/dev/shm" : fs::temp_directory_path().string();
    std::string pattern = dir + "/pw-fuzz-archive-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp");
    auto* out_ptr = new Root();
    Root& out = *out_ptr;
    out.base = pattern;
    out.artifact = out.base + "/artifact";
    out.work = out.base + "/work";
    out.destination = out.work + "/release";
    out.outside = out.base + "/outside";
    out.canary = out.base + "/canary";
    fs::create_directories(out.work);
    fs::create_directories(out.outside);
    std::ofstream(out.canary) << kCanary;
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(root().base, ignored);
    });
    return out_ptr;
  }();
  return *r;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void check_links_stay_inside(const std::string& tree) {
  char real_root[PATH_MAX];
  if (::realpath(tree.c_str(), real_root) == nullptr) fail("realpath of the extracted tree");
  std::string prefix = std::string(real_root) + "/";
  for (auto it = fs::recursive_directory_iterator(tree); it != fs::recursive_directory_iterator();
       ++it) {
    if (!it->is_symlink()) continue;
    char resolved[PATH_MAX];
    if (::realpath(it->path().c_str(), resolved) == nullptr) continue;  // dangling
    std::string target = resolved;
    if (target != real_root && target.rfind(prefix, 0) != 0) {
      fail("symlink " + it->path().string() + " resolves outside: " + target);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Root& r = root();
  {
    std::ofstream out(r.artifact, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  pw::archive::Limits limits;
  limits.max_total_bytes = 64ull << 20;  // keeps each run fast; the ratio rule still applies
  limits.max_entries = 5000;

  auto report = pw::archive::inspect(r.artifact, limits);
  if (!report.ok()) fail("inspect failed on a readable file: " + report.error().to_string());
  auto extracted = pw::archive::extract(r.artifact, r.destination, limits);
  if (extracted.ok() != report->ok()) {
    fail("inspect and extract disagree: " +
         (extracted.ok() ? report->violations.front().rule : extracted.error().to_string()));
  }
  if (extracted.ok()) {
    check_links_stay_inside(r.destination);
    std::error_code ignored;
    fs::remove_all(r.destination, ignored);
  }

  if (!fs::is_empty(r.work)) fail("something was left next to the destination");
  if (!fs::is_empty(r.outside)) fail("something was created outside the destination");
  if (read_all(r.canary) != kCanary) fail("the canary changed");
  return 0;
}
