// Where a test's store lives: a SQLite file by default, or — when PATCHWAVE_TEST_PG_URL
// names a PostgreSQL server (tests/support/with_pg.sh sets it) — a new, empty database
// on that server for each call, so that the same test cases run against both engines.
#pragma once

#include <string>

#include "orchestrator/store/database.hpp"
#include "tests/support/temp_dir.hpp"

namespace pw::test {

bool testing_postgresql();

// A fresh, empty store location; throws std::runtime_error when the PostgreSQL server
// cannot make a database (the test fails: it must not pass on SQLite alone).
store::Location fresh_store(const TempDir& dir, const std::string& file = "store.db");

}  // namespace pw::test
