#include "orchestrator/store/sqlite.hpp"

#include <sqlite3.h>

namespace pw::store {
namespace {

Error sqlite_error(sqlite3* db, const std::string& what) {
  return make_error(Errc::io, what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

class SqliteStatement final : public StatementEngine {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void bind_text(int index, std::string_view text) override {
    check_bind(index, sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                        SQLITE_TRANSIENT));
  }
  void bind_integer(int index, std::int64_t value) override {
    check_bind(index, sqlite3_bind_int64(stmt_, index, value));
  }
  void bind_null(int index) override { check_bind(index, sqlite3_bind_null(stmt_, index)); }

  Result<bool> step() override {
    if (bind_error_) return *bind_error_;
    int code = sqlite3_step(stmt_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    return sqlite_error(db_, "SQL '" + sql_.substr(0, 60) + "'");
  }

  std::string text(int column) const override {
    const unsigned char* value = sqlite3_column_text(stmt_, column);
    if (value == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(value),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::int64_t integer(int column) const override { return sqlite3_column_int64(stmt_, column); }
  bool is_null(int column) const override {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }

 private:
  void check_bind(int index, int code) {
    if (code != SQLITE_OK && !bind_error_) {
      bind_error_ = sqlite_error(db_, "binding ?" + std::to_string(index));
    }
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
  std::optional<Error> bind_error_;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteDatabase() override { sqlite3_close_v2(db_); }

  Dialect dialect() const override { return Dialect::sqlite; }
  std::string name() const override { return path_; }

  Result<Statement> prepare(std::string_view sql) override {
    PW_TRY_ASSIGN(PreparedSql checked, statement_sql(sql, Dialect::sqlite));
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, checked.text.data(), static_cast<int>(checked.text.size()), 0,
                           &stmt, nullptr) != SQLITE_OK) {
      return sqlite_error(db_, "preparing '" + std::string(sql.substr(0, 60)) + "'");
    }
    return Statement(std::make_unique<SqliteStatement>(db_, stmt, std::move(checked.text)));
  }

  Status exec(std::string_view sql) override {
    std::string text(sql);
    char* message = nullptr;
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string reason = message != nullptr ? message : "unknown error";
      sqlite3_free(message);
      return make_error(Errc::io, path_ + ": " + reason);
    }
    return Ok{};
  }

 protected:
  Status begin_write() override { return exec("BEGIN IMMEDIATE"); }
  Status commit() override { return exec("COMMIT"); }
  Status rollback() override { return exec("ROLLBACK"); }

 private:
  sqlite3* db_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<Database>> open_sqlite(const std::string& path) {
  sqlite3* db = nullptr;
  int code =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, nullptr);
  auto database = std::make_unique<SqliteDatabase>(db, path);
  if (code != SQLITE_OK) return sqlite_error(db, "opening the store " + path);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  // WAL: readers never block the writer; FULL: a committed transaction survives power
  // loss, not only a killed process.
  PW_TRY(
      database->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  PW_TRY_ASSIGN(Statement check, database->prepare("PRAGMA journal_mode"));
  PW_TRY_ASSIGN(bool row, check.step());
  if (!row || check.text(0) != "wal") {
    return make_error(Errc::io, path + ": cannot switch the store to WAL mode");
  }
  return std::unique_ptr<Database>(std::move(database));
}

}  // namespace pw::store
