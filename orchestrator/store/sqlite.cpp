#include "orchestrator/store/sqlite.hpp"

#include <sqlite3.h>

namespace pw::store {
namespace {

Error sqlite_error(sqlite3* db, const std::string& what) {
  return make_error(Errc::io, what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

Statement::Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
    : db_(db), stmt_(stmt), sql_(std::move(sql)) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(other.stmt_),
      sql_(std::move(other.sql_)),
      bind_error_(std::move(other.bind_error_)) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, std::string_view text) {
  if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK &&
      !bind_error_) {
    bind_error_ = sqlite_error(db_, "binding ?" + std::to_string(index));
  }
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK && !bind_error_) {
    bind_error_ = sqlite_error(db_, "binding ?" + std::to_string(index));
  }
  return *this;
}

Statement& Statement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK && !bind_error_) {
    bind_error_ = sqlite_error(db_, "binding ?" + std::to_string(index));
  }
  return *this;
}

Result<bool> Statement::step() {
  if (bind_error_) return *bind_error_;
  int code = sqlite3_step(stmt_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return sqlite_error(db_, "SQL '" + sql_.substr(0, 60) + "'");
}

Status Statement::run() {
  for (;;) {
    PW_TRY_ASSIGN(bool row, step());
    if (!row) return Ok{};
  }
}

std::string Statement::text(int column) const {
  const unsigned char* value = sqlite3_column_text(stmt_, column);
  if (value == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(value),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path) {
  sqlite3* db = nullptr;
  int code =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, nullptr);
  std::unique_ptr<Database> database(new Database(db, path));
  if (code != SQLITE_OK) return sqlite_error(db, "opening the store " + path);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  // WAL: readers never block the writer; FULL: a committed transaction survives power
  // loss, not only a killed process.
  PW_TRY(
      database->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  auto check = database->prepare("PRAGMA journal_mode");
  if (!check.ok()) return std::move(check).error();
  PW_TRY_ASSIGN(bool row, check->step());
  if (!row || check->text(0) != "wal") {
    return make_error(Errc::io, path + ": cannot switch the store to WAL mode");
  }
  return database;
}

Database::~Database() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr) !=
      SQLITE_OK) {
    return sqlite_error(db_, "preparing '" + std::string(sql.substr(0, 60)) + "'");
  }
  return Statement(db_, stmt, std::string(sql));
}

Status Database::exec(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string reason = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return make_error(Errc::io, path_ + ": " + reason);
  }
  return Ok{};
}

}  // namespace pw::store
