// The one place where the store's two SQL dialects differ. Callers write SQLite's form
// with ?N placeholders (which PostgreSQL's engine turns into $N); migrations write
// portable SQL plus a few tokens, expanded here per dialect:
//   {{SERIAL}}       a surrogate key filled in on insert (SQLite's INTEGER PRIMARY KEY)
//   {{ROWID}},       PostgreSQL only: an explicit `rowid` identity column, so that
//                    `ORDER BY rowid` (insertion order) means the same on both
//   {{APPEND_ONLY}}  triggers that refuse UPDATE and DELETE on `events`
// and on PostgreSQL the types INTEGER -> BIGINT (every integer column holds int64, as
// in SQLite) and BLOB -> TEXT (the store keeps UTF-8 text there: TUF metadata JSON).
// The SQLite expansion of every shipped migration is its text as first released.
#pragma once

#include <string>
#include <string_view>

#include "common/errors/result.hpp"

namespace pw::store {

enum class Dialect { sqlite, postgresql };

const char* dialect_name(Dialect dialect);

struct PreparedSql {
  std::string text;    // as the engine takes it
  int parameters = 0;  // the highest ?N used
};

// A statement in SQLite's form for `dialect`: ?N becomes $N on PostgreSQL (outside
// quoted strings and identifiers). Errc::invalid_argument for a bare `?` (numbered
// parameters only, so that both engines agree on the numbers) or a ?N beyond 999.
Result<PreparedSql> statement_sql(std::string_view sql, Dialect dialect);

// Migration text with its tokens expanded (and types mapped) for `dialect`.
// Errc::internal for an unknown {{token}}.
Result<std::string> migration_sql(std::string_view sql, Dialect dialect);

}  // namespace pw::store
