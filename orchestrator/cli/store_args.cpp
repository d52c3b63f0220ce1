#include "orchestrator/cli/store_args.hpp"

#include <CLI/CLI.hpp>

#include "orchestrator/controller/config.hpp"

namespace pw::cli {

void add_store_options(CLI::App* cmd, StoreArgs& args, bool required, const std::string& without) {
  auto* group = cmd->add_option_group("store", "Where the controller's store is");
  auto* db = group->add_option(
      "--db", args.db,
      "The controller's store: a SQLite file or a postgresql:// URL (password from "
      "PGPASSWORD or ~/.pgpass)" +
          without);
  auto* config = group->add_option(
      "--config", args.config,
      "The controller's configuration (controller.yaml): open the store it names" + without);
  db->excludes(config);
  if (required) group->require_option(1);
}

Result<std::unique_ptr<store::Store>> open_store(const StoreArgs& args, bool create) {
  if (!args.config.empty()) {
    PW_TRY_ASSIGN(controller::Config config, controller::load_config(args.config));
    return store::Store::open(config.store, create);
  }
  auto where = store::Location::parse(args.db);
  if (!where.ok()) return std::move(where).error().with_context("--db");
  return store::Store::open(*where, create);
}

}  // namespace pw::cli
