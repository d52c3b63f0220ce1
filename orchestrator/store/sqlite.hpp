// The SQLite engine behind Database (internal to the store module).
#pragma once

#include "orchestrator/store/database.hpp"

namespace pw::store {

Result<std::unique_ptr<Database>> open_sqlite(const std::string& path);

}  // namespace pw::store
