// The store's schema as a list of numbered migrations, applied in order, each in its own
// transaction, recorded in schema_migrations. A database made by an older Patchwave is
// upgraded in place; one made by a newer Patchwave is refused. One list serves both
// engines: the text is portable SQL with the few tokens dialect.hpp expands, so that
// a version number means the same schema on SQLite and on PostgreSQL.
#pragma once

#include <string_view>
#include <vector>

#include "orchestrator/store/database.hpp"

namespace pw::store {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& migrations();

// The highest applied version (0 for a new database).
Result<int> schema_version(Database& db);

// Applies the missing migrations up to `target` (default: all). Errc::conflict when the
// database is newer than this program.
Status migrate(Database& db, int target = -1);

}  // namespace pw::store
