// inspect(): every header through the same checker extract() uses, data read (and the
// ratio checked) but never written.
#include <filesystem>
#include <string>
#include <system_error>

#include "common/archive/archive.hpp"
#include "common/archive/checker.hpp"
#include "common/archive/reader.hpp"

namespace pw::archive {

using detail::EntryChecker;
using detail::Reader;

Result<Report> inspect(const std::string& archive_path, const Limits& limits) {
  Report report;
  auto opened = Reader::open(archive_path, limits);
  if (!opened.ok()) {
    Error& error = opened.error();
    if (error.code == Errc::io || error.code == Errc::internal) {
      return std::move(error).with_context("inspecting " + archive_path);
    }
    std::error_code ignored;
    auto size = std::filesystem::file_size(archive_path, ignored);
    report.compressed_bytes = ignored ? 0 : static_cast<std::uint64_t>(size);
    report.violations.push_back(Violation{"", error.message});
    return report;
  }
  Reader& reader = **opened;
  report.compression = reader.compression();
  report.compressed_bytes = reader.file_size();

  EntryChecker checker(limits);
  bool complete = false;
  while (true) {
    auto next = reader.next();
    if (!next.ok()) {
      report.violations.push_back(Violation{"", next.error().message});
      break;
    }
    if (!next->has_value()) {
      complete = true;
      break;
    }
    const detail::RawHeader& header = **next;
    auto checked = checker.check(header);
    if (checked.listed) report.entries.push_back(checked.entry);
    for (auto& refusal : checked.refusals) report.violations.push_back(refusal.violation);
    if (checked.stop) break;
    // Drained here, so that the next header's budget counts only header bytes.
    // A file's data is read (not skipped) so that inspection refuses what extraction
    // would (data past the entry's size; found by fuzz_archive).
    auto skipped = header.type == detail::RawType::file ? reader.drain_within(header.size)
                                                        : reader.skip_data();
    if (!skipped.ok()) {
      report.violations.push_back(
          Violation{detail::printable(header.name), skipped.error().message});
      break;
    }
  }
  if (complete) {
    for (auto& refusal : checker.finish()) report.violations.push_back(refusal.violation);
  }
  report.format = reader.format();
  report.total_bytes = checker.total_bytes;
  report.files = checker.files;
  report.directories = checker.directories;
  report.symlinks = checker.symlinks;
  report.hardlinks = checker.hardlinks;
  return report;
}

}  // namespace pw::archive
