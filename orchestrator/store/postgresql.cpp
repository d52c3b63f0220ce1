#include "orchestrator/store/postgresql.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <mutex>
#include <vector>

namespace pw::store {
namespace {

// Type OIDs are fixed in PostgreSQL's catalog (pg_type.dat); the server headers that
// name them are not needed for three numbers.
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;

// One key for the store's write lock (pg_advisory_xact_lock): "patchwave" in ASCII.
constexpr const char* kBeginWrite = "BEGIN; SELECT pg_advisory_xact_lock(444234175585)";

std::string first_line(const char* message) {
  std::string text = message != nullptr ? message : "unknown error";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

constexpr const char* kSession = "SET client_min_messages = warning; SET TIME ZONE 'UTC'";

Status check(const ResultPtr& result, PGconn* conn, const std::string& what) {
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Ok{};
  const char* message = result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn);
  return make_error(Errc::io, what + ": " + first_line(message));
}

// The connection and the mutex that keeps two threads out of libpq at once: libpq's
// connections are not thread-safe, SQLite's are (serialized mode), and callers share
// one Database the way they did with SQLite. Members are used under `mutex`.
struct Connection {
  PGconn* conn = nullptr;
  std::mutex mutex;
  std::string name;             // the URL, for messages
  bool in_transaction = false;  // between begin_write() and commit() / rollback()
  ~Connection() { PQfinish(conn); }

  // Before each command: a connection the server dropped (a restart, a failover) is
  // made again, except inside a transaction, whose work is gone with the connection:
  // its statements must fail rather than go on outside any transaction.
  Status ready() {
    if (PQstatus(conn) == CONNECTION_OK) return Ok{};
    if (in_transaction) {
      return make_error(Errc::io, name +
                                      ": the connection was lost inside a transaction, "
                                      "which the server rolled back");
    }
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
      return make_error(Errc::io, name + ": reconnecting: " + first_line(PQerrorMessage(conn)));
    }
    ResultPtr session(PQexec(conn, kSession));
    return check(session, conn, name);
  }

  Status exec(const std::string& sql) {
    PW_TRY(ready());
    // PQexec runs a script as one implicit transaction unless it has its own BEGIN.
    ResultPtr result(PQexec(conn, sql.c_str()));
    return check(result, conn, name);
  }
};

class PostgresStatement final : public StatementEngine {
 public:
  PostgresStatement(Connection& connection, PreparedSql sql)
      : connection_(&connection),
        sql_(std::move(sql)),
        values_(static_cast<std::size_t>(sql_.parameters)),
        types_(static_cast<std::size_t>(sql_.parameters), Oid{0}) {}

  void bind_text(int index, std::string_view text) override {
    if (auto* slot = parameter(index)) {
      *slot = std::string(text);
      types_[static_cast<std::size_t>(index - 1)] = 0;  // the server infers it
    }
  }
  void bind_integer(int index, std::int64_t value) override {
    if (auto* slot = parameter(index)) {
      *slot = std::to_string(value);
      types_[static_cast<std::size_t>(index - 1)] = kInt8Oid;
    }
  }
  void bind_null(int index) override {
    if (auto* slot = parameter(index)) slot->reset();
  }

  // The whole result is fetched on the first step; rows are then read from memory.
  Result<bool> step() override {
    if (error_) return *error_;
    if (!result_) {
      std::vector<const char*> values;
      std::vector<int> lengths;
      for (const auto& value : values_) {
        values.push_back(value ? value->c_str() : nullptr);
        lengths.push_back(value ? static_cast<int>(value->size()) : 0);
      }
      {
        std::lock_guard lock(connection_->mutex);
        if (auto ready = connection_->ready(); !ready.ok()) {
          error_ = std::move(ready).error();
          return *error_;
        }
        result_.reset(PQexecParams(connection_->conn, sql_.text.c_str(), sql_.parameters,
                                   types_.data(), values.data(), lengths.data(), nullptr, 0));
        auto ran = check(result_, connection_->conn, "SQL '" + sql_.text.substr(0, 60) + "'");
        if (!ran.ok()) {
          error_ = std::move(ran).error();
          return *error_;
        }
      }
      rows_ = PQntuples(result_.get());
      row_ = -1;
    }
    if (row_ < rows_) ++row_;
    return row_ < rows_;
  }

  std::string text(int column) const override {
    if (!readable(column)) return {};
    return std::string(PQgetvalue(result_.get(), row_, column),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
  }

  std::int64_t integer(int column) const override {
    if (!readable(column) || PQgetisnull(result_.get(), row_, column) != 0) return 0;
    Oid type = PQftype(result_.get(), column);
    std::string value = text(column);
    std::int64_t out = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec == std::errc() && end == value.data() + value.size() && !value.empty()) return out;
    if (!error_) {
      std::string rule = type == kBoolOid ? " is a boolean; select it as an integer"
                                          : " is not a whole 64-bit integer";
      if (type == kInt2Oid || type == kInt4Oid || type == kInt8Oid) rule = " is out of range";
      error_ = make_error(Errc::parse, "SQL '" + sql_.text.substr(0, 60) + "': column " +
                                           std::to_string(column) + " ('" + value.substr(0, 20) +
                                           "')" + rule);
    }
    return 0;
  }

  bool is_null(int column) const override {
    return !readable(column) || PQgetisnull(result_.get(), row_, column) != 0;
  }

 private:
  std::optional<std::string>* parameter(int index) {
    if (index >= 1 && index <= sql_.parameters)
      return &values_[static_cast<std::size_t>(index - 1)];
    if (!error_) {
      error_ = make_error(Errc::invalid_argument, "SQL '" + sql_.text.substr(0, 60) +
                                                      "': no parameter ?" + std::to_string(index));
    }
    return nullptr;
  }
  bool readable(int column) const {
    return result_ && row_ >= 0 && row_ < rows_ && column >= 0 && column < PQnfields(result_.get());
  }

  Connection* connection_;
  PreparedSql sql_;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  ResultPtr result_;
  int rows_ = 0, row_ = -1;
  mutable std::optional<Error> error_;  // a bad bind or an unreadable integer
};

class PostgresDatabase final : public Database {
 public:
  explicit PostgresDatabase(std::unique_ptr<Connection> connection)
      : connection_(std::move(connection)) {}

  Dialect dialect() const override { return Dialect::postgresql; }
  std::string name() const override { return connection_->name; }

  Result<Statement> prepare(std::string_view sql) override {
    PW_TRY_ASSIGN(PreparedSql rewritten, statement_sql(sql, Dialect::postgresql));
    return Statement(std::make_unique<PostgresStatement>(*connection_, std::move(rewritten)));
  }

  Status exec(std::string_view sql) override {
    std::lock_guard lock(connection_->mutex);
    return connection_->exec(std::string(sql));
  }

 protected:
  Status begin_write() override {
    std::lock_guard lock(connection_->mutex);
    auto begun = connection_->exec(kBeginWrite);
    if (!begun.ok()) {
      (void)connection_->exec("ROLLBACK");  // BEGIN may have worked and the lock not
      return begun;
    }
    connection_->in_transaction = true;
    return Ok{};
  }

  // PostgreSQL aborts a transaction at its first failed statement, where SQLite goes
  // on; COMMIT would then roll back without an error. A body that carried on after a
  // failure therefore fails here, loudly, with nothing of it committed.
  Status commit() override {
    std::lock_guard lock(connection_->mutex);
    connection_->in_transaction = false;
    if (PQstatus(connection_->conn) == CONNECTION_OK &&
        PQtransactionStatus(connection_->conn) == PQTRANS_INERROR) {
      (void)connection_->exec("ROLLBACK");
      return make_error(Errc::io, connection_->name +
                                      ": a statement in the transaction failed, so none of it "
                                      "was committed");
    }
    return connection_->exec("COMMIT");
  }

  Status rollback() override {
    std::lock_guard lock(connection_->mutex);
    connection_->in_transaction = false;
    if (PQstatus(connection_->conn) != CONNECTION_OK) return Ok{};  // the server rolled back
    return connection_->exec("ROLLBACK");
  }

 private:
  std::unique_ptr<Connection> connection_;
};

void ignore_notice(void*, const char*) {}

}  // namespace

Result<std::unique_ptr<Database>> open_postgresql(const std::string& url,
                                                  const std::string& password) {
  auto connection = std::make_unique<Connection>();
  connection->name = url;
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values = {url.c_str(), "10", "patchwave"};
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  connection->conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (connection->conn == nullptr) {
    return make_error(Errc::io, "opening the store " + url + ": out of memory");
  }
  if (PQstatus(connection->conn) != CONNECTION_OK) {
    return make_error(
        Errc::io, "opening the store " + url + ": " + first_line(PQerrorMessage(connection->conn)));
  }
  if (PQserverVersion(connection->conn) < 100000) {
    return make_error(Errc::unsupported,
                      "opening the store " + url + ": PostgreSQL 10 or newer is required");
  }
  // NOTICEs ("relation already exists, skipping") would go to stderr.
  PQsetNoticeProcessor(connection->conn, ignore_notice, nullptr);
  auto database = std::make_unique<PostgresDatabase>(std::move(connection));
  PW_TRY(database->exec(kSession));
  return std::unique_ptr<Database>(std::move(database));
}

}  // namespace pw::store
