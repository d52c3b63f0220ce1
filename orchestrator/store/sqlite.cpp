#include "orchestrator/store/sqlite.hpp"

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pw::store {
namespace {

Error sqlite_error(sqlite3* db, const std::string& what) {
  return make_error(Errc::io, what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

// Prepared statements kept for reuse, by their SQL text: the controller runs the same
// few dozen statements on every tick and every save, and compiling them again each time
// was a fifth of its CPU. A statement comes back reset (its read transaction ended) with
// its bindings cleared. Shared with the statements it lent, which may outlive the
// connection's object by a moment; after close() they finalize themselves.
class StatementCache {
 public:
  static constexpr std::size_t max_texts = 256;  // SQL built with varying IN lists
  static constexpr std::size_t max_per_text = 4;

  sqlite3_stmt* take(const std::string& sql) {
    std::lock_guard lock(mutex_);
    auto it = free_.find(sql);
    if (it == free_.end() || it->second.empty()) return nullptr;
    sqlite3_stmt* stmt = it->second.back();
    it->second.pop_back();
    return stmt;
  }

  // False when the statement is not kept (the caller finalizes it).
  bool give_back(const std::string& sql, sqlite3_stmt* stmt) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    auto it = free_.find(sql);
    if (it == free_.end()) {
      if (free_.size() >= max_texts) return false;
      it = free_.emplace(sql, std::vector<sqlite3_stmt*>{}).first;
    }
    if (it->second.size() >= max_per_text) return false;
    it->second.push_back(stmt);
    return true;
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    for (auto& [sql, stmts] : free_) {
      for (sqlite3_stmt* stmt : stmts) sqlite3_finalize(stmt);
    }
    free_.clear();
  }

 private:
  std::mutex mutex_;
  bool closed_ = false;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> free_;
};

class SqliteStatement final : public StatementEngine {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, std::string sql,
                  std::shared_ptr<StatementCache> cache)
      : db_(db), stmt_(stmt), sql_(std::move(sql)), cache_(std::move(cache)) {}
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() override {
    sqlite3_reset(stmt_);  // ends its read; the error, if any, was step()'s to report
    sqlite3_clear_bindings(stmt_);
    if (!cache_->give_back(sql_, stmt_)) sqlite3_finalize(stmt_);
  }

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
  std::shared_ptr<StatementCache> cache_;
  std::optional<Error> bind_error_;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteDatabase() override {
    cache_->close();
    sqlite3_close_v2(db_);  // a statement still lent out keeps the connection until freed
  }

  Dialect dialect() const override { return Dialect::sqlite; }
  std::string name() const override { return path_; }

  Result<Statement> prepare(std::string_view sql) override {
    std::string text(sql);
    sqlite3_stmt* stmt = cache_->take(text);
    if (stmt == nullptr) {
      PW_TRY_ASSIGN(PreparedSql checked, statement_sql(sql, Dialect::sqlite));
      if (sqlite3_prepare_v3(db_, checked.text.data(), static_cast<int>(checked.text.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
        return sqlite_error(db_, "preparing '" + text.substr(0, 60) + "'");
      }
    }
    return Statement(std::make_unique<SqliteStatement>(db_, stmt, std::move(text), cache_));
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
  Status begin_write() override { return run("BEGIN IMMEDIATE"); }
  Status commit() override { return run("COMMIT"); }
  Status rollback() override { return run("ROLLBACK"); }

 private:
  Status run(std::string_view sql) {
    PW_TRY_ASSIGN(Statement statement, prepare(sql));
    return statement.run();
  }

  sqlite3* db_;
  std::string path_;
  std::shared_ptr<StatementCache> cache_ = std::make_shared<StatementCache>();
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
