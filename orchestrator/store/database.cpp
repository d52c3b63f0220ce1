#include "orchestrator/store/database.hpp"

#include "orchestrator/store/postgresql.hpp"
#include "orchestrator/store/sqlite.hpp"

namespace pw::store {

Location Location::sqlite(std::string path) {
  Location where;
  where.path = std::move(path);
  return where;
}

namespace {

bool has_scheme(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

// postgresql://user:secret@host/db or ...?password=secret
bool carries_password(const std::string& url) {
  auto authority = url.find("://") + 3;
  auto end = url.find_first_of("/?", authority);
  auto at = url.rfind('@', end);
  if (at != std::string::npos && at >= authority && url.find(':', authority) < at) {
    return true;
  }
  auto query = url.find('?');
  return query != std::string::npos && (url.find("?password=", query) != std::string::npos ||
                                        url.find("&password=", query) != std::string::npos);
}

}  // namespace

Result<Location> Location::postgresql(std::string url, std::string password) {
  if (!has_scheme(url)) {
    return make_error(
        Errc::invalid_argument,
        "the PostgreSQL URL must start with postgresql:// (postgresql://USER@HOST:PORT/DATABASE)");
  }
  if (carries_password(url)) {
    return make_error(Errc::invalid_argument,
                      "the PostgreSQL URL must not carry a password; give it in a file or the "
                      "environment (PGPASSWORD, ~/.pgpass, or store.password_file / password_env)");
  }
  Location where;
  where.backend = Dialect::postgresql;
  where.url = std::move(url);
  where.password = std::move(password);
  return where;
}

Result<Location> Location::parse(const std::string& text) {
  if (has_scheme(text)) return postgresql(text);
  return sqlite(text);
}

std::string Location::describe() const { return backend == Dialect::postgresql ? url : path; }

Status Statement::run() {
  for (;;) {
    PW_TRY_ASSIGN(bool row, step());
    if (!row) return Ok{};
  }
}

Result<std::unique_ptr<Database>> Database::open(const Location& where) {
  if (where.backend == Dialect::postgresql) return open_postgresql(where.url, where.password);
  return open_sqlite(where.path);
}

}  // namespace pw::store
