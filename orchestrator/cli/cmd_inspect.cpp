// patchwave release inspect
#include <CLI/CLI.hpp>

#include <cstdio>

#include "common/archive/archive.hpp"
#include "orchestrator/cli/cli.hpp"

namespace pw::cli {
namespace {

struct InspectArgs {
  std::string artifact;
  std::vector<std::string> limits;
  bool quiet = false;
  std::string output = "text";
};

json::Value report_json(const archive::Report& r) {
  json::Value entries = json::Value::array();
  for (const auto& e : r.entries) {
    json::Value entry = {{"path", e.path},
                         {"type", archive::entry_type_name(e.type)},
                         {"size", e.size},
                         {"mode", e.mode}};
    if (!e.link_target.empty()) entry["link_target"] = e.link_target;
    entries.push_back(entry);
  }
  json::Value violations = json::Value::array();
  for (const auto& v : r.violations) violations.push_back({{"entry", v.entry}, {"rule", v.rule}});
  return {{"ok", r.ok()},
          {"format", r.format},
          {"compression", r.compression},
          {"entries", entries},
          {"totals",
           {{"files", r.files},
            {"directories", r.directories},
            {"symlinks", r.symlinks},
            {"hardlinks", r.hardlinks},
            {"bytes", r.total_bytes},
            {"compressed_bytes", r.compressed_bytes}}},
          {"violations", violations}};
}

void print_text(const archive::Report& r, bool quiet) {
  if (!quiet) {
    for (const auto& e : r.entries) {
      std::printf("%-9s %04o %12llu  %s", archive::entry_type_name(e.type), e.mode,
                  static_cast<unsigned long long>(e.size), e.path.c_str());
      if (!e.link_target.empty()) std::printf(" -> %s", e.link_target.c_str());
      std::printf("\n");
    }
  }
  std::printf(
      "%s, %s: %llu files, %llu directories, %llu symlinks, %llu hardlinks, %llu bytes "
      "(%llu compressed)\n",
      r.format.c_str(), r.compression.c_str(), static_cast<unsigned long long>(r.files),
      static_cast<unsigned long long>(r.directories), static_cast<unsigned long long>(r.symlinks),
      static_cast<unsigned long long>(r.hardlinks), static_cast<unsigned long long>(r.total_bytes),
      static_cast<unsigned long long>(r.compressed_bytes));
  for (const auto& v : r.violations) {
    std::printf("REFUSED %s: %s\n", v.entry.empty() ? "(archive)" : v.entry.c_str(),
                v.rule.c_str());
  }
  std::printf(r.ok() ? "ok: agents will accept this archive\n"
                     : "refused: agents will not unpack this archive\n");
}

int inspect(const InspectArgs& args) {
  auto limits = parse_archive_limits(args.limits);
  if (!limits.ok()) return fail(limits.error());
  auto report = archive::inspect(args.artifact, *limits);
  if (!report.ok()) return fail(report.error().with_context("release inspect"));
  if (args.output == "json") {
    std::printf("%s\n", report_json(*report).dump(2).c_str());
  } else {
    print_text(*report, args.quiet);
  }
  return report->ok() ? kExitOk : kExitFailed;
}

}  // namespace

Result<archive::Limits> parse_archive_limits(const std::vector<std::string>& pairs) {
  json::Value limits = json::Value::object();
  for (const auto& pair : pairs) {
    auto eq = pair.find('=');
    if (eq == std::string::npos) {
      return make_error(Errc::invalid_argument,
                        "--archive-limit '" + pair + "' is not NAME=NUMBER");
    }
    std::string value = pair.substr(eq + 1);
    if (value.empty() || value.size() > 19 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      return make_error(Errc::invalid_argument, "--archive-limit '" + pair + "': not a number");
    }
    limits[pair.substr(0, eq)] = std::stoull(value);
  }
  return archive::limits_from_custom(json::Value{{"archive_limits", limits}});
}

void register_inspect_command(CLI::App& release, Action& action) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = release.add_subcommand(
      "inspect",
      "List the entries and totals of a release tarball and report every rule it breaks\n"
      "(the same checks agents apply before unpacking), before anyone signs it. Exit 1 when\n"
      "agents would refuse it.");
  cmd->add_option("ARTIFACT", args->artifact, "The release tarball")->required();
  cmd->add_option("--archive-limit", args->limits,
                  "Override a limit, NAME=NUMBER: max_total_bytes, max_entries, max_path_bytes,\n"
                  "max_component_bytes, max_ratio; repeat");
  cmd->add_flag("-q,--quiet", args->quiet, "Totals and violations only");
  cmd->add_option("--output", args->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->footer("Example:\n  patchwave release inspect dist/demo-service-1.0.1.tar.gz\n");
  cmd->callback([&action, args] { action = [args] { return inspect(*args); }; });
}

}  // namespace pw::cli
