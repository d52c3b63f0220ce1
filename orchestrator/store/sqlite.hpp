// A thin RAII adapter over SQLite: a connection, prepared statements with bound values
// (never SQL built from data), transactions. The only place that includes sqlite3.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/errors/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace pw::store {

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQL's ?1, ?2 ...
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);
  Statement& bind_null(int index);

  // Ok(true) with a row to read, Ok(false) when done.
  Result<bool> step();
  // Runs to completion (for statements without rows).
  Status run();

  std::string text(int column) const;  // 0-based; "" for NULL
  std::int64_t integer(int column) const;
  bool is_null(int column) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql);
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
  std::optional<Error> bind_error_;
};

class Database {
 public:
  // Opens (creating if needed) in WAL mode with synchronous=FULL and foreign keys on.
  static Result<std::unique_ptr<Database>> open(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Result<Statement> prepare(std::string_view sql);
  Status exec(std::string_view sql);  // a script of statements without parameters

  // BEGIN IMMEDIATE ... COMMIT; rolled back when `body` fails.
  template <typename F>
  Status transaction(F&& body) {
    PW_TRY(exec("BEGIN IMMEDIATE"));
    Status result = body();
    if (!result.ok()) {
      (void)exec("ROLLBACK");
      return result;
    }
    return exec("COMMIT");
  }

  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

}  // namespace pw::store
