// How commands that open the controller's store directly (audit, ca token) find it:
// --db FILE|postgresql://URL, or --config controller.yaml for the store that the
// controller's configuration names (including a password from a file or variable).
#pragma once

#include <memory>
#include <string>

#include "orchestrator/store/store.hpp"

namespace CLI {
class App;
}

namespace pw::cli {

struct StoreArgs {
  std::string db;      // a SQLite file or a postgresql:// URL (password: PGPASSWORD, ~/.pgpass)
  std::string config;  // controller.yaml

  bool given() const { return !db.empty() || !config.empty(); }
};

// Adds --db and --config (at most one; with `required`, exactly one).
void add_store_options(CLI::App* cmd, StoreArgs& args, bool required,
                       const std::string& without = "");

// Opens the store the arguments name (see Store::open for `create`).
Result<std::unique_ptr<store::Store>> open_store(const StoreArgs& args, bool create);

}  // namespace pw::cli
