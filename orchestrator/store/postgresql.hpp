// The PostgreSQL engine behind Database (internal to the store module).
#pragma once

#include "orchestrator/store/database.hpp"

namespace pw::store {

// Connects to an existing database; `password` may be empty (libpq then looks at
// PGPASSWORD and ~/.pgpass as usual).
Result<std::unique_ptr<Database>> open_postgresql(const std::string& url,
                                                  const std::string& password);

}  // namespace pw::store
