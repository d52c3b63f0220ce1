// The store's SQL seam: a connection with prepared statements with bound values (never
// SQL built from data) and write transactions, over one of two engines: SQLite (a file,
// the embedded default) or PostgreSQL (libpq). Callers write one SQL text in SQLite's
// form with numbered ?N parameters; dialect.hpp says what each engine changes. Only
// sqlite.cpp includes sqlite3.h and only postgresql.cpp includes libpq-fe.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/errors/result.hpp"
#include "orchestrator/store/dialect.hpp"

namespace pw::store {

// Where the store lives.
struct Location {
  Dialect backend = Dialect::sqlite;
  std::string path;      // sqlite: the database file
  std::string url;       // postgresql: a libpq URI or key=value string, without a password
  std::string password;  // postgresql: from a file or the environment; never shown

  static Location sqlite(std::string path);
  // Errc::invalid_argument unless `url` is postgresql://... or postgres://... without a
  // password in it (a password belongs in a file or the environment, not in a URL that
  // ends up in configuration, process lists and messages).
  static Result<Location> postgresql(std::string url, std::string password = {});
  // "postgresql://..." or "postgres://..." is PostgreSQL; anything else a SQLite file.
  static Result<Location> parse(const std::string& text);
  // For messages and logs: the path, or the URL (which carries no password).
  std::string describe() const;
};

// What an engine implements for one statement (see Statement for the contract).
class StatementEngine {
 public:
  virtual ~StatementEngine() = default;
  virtual void bind_text(int index, std::string_view text) = 0;
  virtual void bind_integer(int index, std::int64_t value) = 0;
  virtual void bind_null(int index) = 0;
  virtual Result<bool> step() = 0;
  virtual std::string text(int column) const = 0;
  virtual std::int64_t integer(int column) const = 0;
  virtual bool is_null(int column) const = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementEngine> engine) : engine_(std::move(engine)) {}
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) = delete;
  ~Statement() = default;

  // Parameters are 1-based, as in SQL's ?1, ?2 ...; one left unbound is NULL. A bind
  // that fails is reported by the next step().
  Statement& bind(int index, std::string_view text) {
    engine_->bind_text(index, text);
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    engine_->bind_integer(index, value);
    return *this;
  }
  Statement& bind_null(int index) {
    engine_->bind_null(index);
    return *this;
  }

  // Ok(true) with a row to read, Ok(false) when done.
  Result<bool> step() { return engine_->step(); }
  // Runs to completion (for statements without rows).
  Status run();

  std::string text(int column) const { return engine_->text(column); }  // 0-based; "" for NULL
  // 0 for NULL. A value that is not a whole int64 (PostgreSQL sends text) reads as 0
  // and fails the next step() with Errc::parse naming the column.
  std::int64_t integer(int column) const { return engine_->integer(column); }
  bool is_null(int column) const { return engine_->is_null(column); }

 private:
  std::unique_ptr<StatementEngine> engine_;
};

class Database {
 public:
  // SQLite: opens (creating if needed) in WAL mode with synchronous=FULL and foreign
  // keys on. PostgreSQL: connects (the database must exist).
  static Result<std::unique_ptr<Database>> open(const Location& where);
  static Result<std::unique_ptr<Database>> open(const std::string& sqlite_path) {
    return open(Location::sqlite(sqlite_path));
  }
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  virtual Dialect dialect() const = 0;
  // SQLite's form, ?N parameters (see dialect.hpp).
  virtual Result<Statement> prepare(std::string_view sql) = 0;
  // A script of statements without parameters, passed to the engine as written.
  virtual Status exec(std::string_view sql) = 0;

  // One writer at a time, as SQLite's BEGIN IMMEDIATE: the body runs holding the
  // store's write lock (on PostgreSQL a transaction-scoped advisory lock, so that
  // read-then-write bodies such as the audit chain's append stay serial across
  // connections). Committed when `body` succeeds, rolled back when it fails. On
  // PostgreSQL a failed statement aborts the transaction, so a body that goes on after
  // one fails at commit, with nothing committed (SQLite would commit the rest).
  template <typename F>
  Status transaction(F&& body) {
    PW_TRY(begin_write());
    Status result = body();
    if (!result.ok()) {
      (void)rollback();
      return result;
    }
    return commit();
  }

  // The file path or the URL, for messages.
  virtual std::string name() const = 0;

 protected:
  Database() = default;
  virtual Status begin_write() = 0;
  virtual Status commit() = 0;
  virtual Status rollback() = 0;
};

}  // namespace pw::store
