// Every class of hostile archive, in every compression, through extract() and inspect():
// refused with the right code, naming the entry and the rule; nothing outside the
// extraction root created or changed; no destination and no staging directory left.
#include <filesystem>
#include <map>
#include <string>

#include <catch2/catch.hpp>

#include "common/archive/archive.hpp"
#include "tests/support/hostile_archives.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using pw::test::Compression;
using pw::test::compression_name;
using pw::test::HostileCase;

namespace {

constexpr const char* kCanary = "canary: must never change\n";

// Everything under `root` (not following symlinks): relative path -> type and content.
std::map<std::string, std::string> snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    std::string rel = it->path().lexically_relative(root).string();
    auto status = it->symlink_status();
    if (fs::is_symlink(status)) {
      out[rel] = "symlink " + fs::read_symlink(it->path()).string();
    } else if (fs::is_regular_file(status)) {
      out[rel] = "file " + pw::test::read_file(it->path().string());
    } else {
      out[rel] = "other";
    }
  }
  return out;
}

// A test's world: `outside/` (absolute names and targets point here), `work/` (the
// destination's parent, with a sibling canary that "../canary" aims at), the artifact.
struct Sandbox {
  pw::test::TempDir temp;
  std::string outside = temp / "outside";
  std::string work = temp / "work";
  std::string destination = work + "/release";
  std::string artifact = temp / "artifact";

  Sandbox() {
    pw::test::write_file(outside + "/canary", kCanary);
    pw::test::write_file(work + "/canary", kCanary);
  }
};

bool names(const pw::archive::Violation& v, const HostileCase& c) {
  if (v.rule.find(c.rule) == std::string::npos) return false;
  return !c.entry || v.entry == *c.entry;
}

}  // namespace

TEST_CASE("every class of hostile archive is refused in every compression", "[archive]") {
  Compression compression =
      GENERATE(Compression::none, Compression::gzip, Compression::xz, Compression::zstd);
  Sandbox box;
  const auto cases = pw::test::hostile_cases(box.outside);
  REQUIRE(cases.size() >= 30);
  const auto outside_before = snapshot(box.outside);
  const auto work_before = snapshot(box.work);
  int checked = 0;
  for (const auto& hostile : cases) {
    if (hostile.needs_compression && compression == Compression::none) continue;
    INFO(hostile.name << " / " << compression_name(compression));
    pw::test::write_case(hostile, compression, box.artifact);

    auto extracted = pw::archive::extract(box.artifact, box.destination, hostile.limits);
    REQUIRE_FALSE(extracted.ok());
    const auto& error = extracted.error();
    INFO(error.to_string());
    CHECK(error.code == hostile.code);
    CHECK(error.message.find(hostile.rule) != std::string::npos);
    if (hostile.entry && !hostile.entry->empty()) {
      CHECK(error.message.rfind("entry '" + *hostile.entry + "': ", 0) == 0);
    } else if (hostile.entry) {
      CHECK(error.message.rfind("entry '", 0) != 0);
    }
    // Nothing outside the root was created or changed; no destination, no staging dir.
    CHECK(snapshot(box.outside) == outside_before);
    CHECK(snapshot(box.work) == work_before);
    CHECK_FALSE(fs::exists(fs::symlink_status(box.destination)));

    auto report = pw::archive::inspect(box.artifact, hostile.limits);
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok());
    bool found = false;
    for (const auto& v : report->violations) found = found || names(v, hostile);
    if (!found) {
      for (const auto& v : report->violations)
        UNSCOPED_INFO("violation: " << v.entry << ": " << v.rule);
    }
    CHECK(found);
    ++checked;
  }
  CHECK(checked >= 30);
}

TEST_CASE("inspect reports every rule broken, in archive order", "[archive]") {
  Sandbox box;
  {
    pw::test::TarWriter w(box.artifact, Compression::gzip);
    w.symlink("escape", box.outside);
    w.file("escape/created", "x");
    w.file("../up", "x");
    w.file("ok", "fine", 0777);
    w.file("suid", "x", 04755);
    w.end();
    w.close();
  }
  auto report = pw::archive::inspect(box.artifact);
  REQUIRE(report.ok());
  CHECK(report->compression == "gzip");
  REQUIRE(report->violations.size() == 4);
  CHECK(report->violations[0].entry == "escape");
  CHECK(report->violations[0].rule == "symlink leaves the release tree (absolute target)");
  CHECK(report->violations[1].entry == "escape/created");
  CHECK(report->violations[1].rule == "writes through symlink 'escape'");
  CHECK(report->violations[2].entry == "../up");
  CHECK(report->violations[2].rule == "'..' component");
  CHECK(report->violations[3].entry == "suid");
  CHECK(report->violations[3].rule == "setuid bit");
  // "ok" is fine once clamped: no world-writable bit.
  bool seen = false;
  for (const auto& e : report->entries) {
    if (e.path == "ok") {
      seen = true;
      CHECK(e.mode == 0775);
    }
  }
  CHECK(seen);
}
