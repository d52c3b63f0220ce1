// The controller's state store: rollouts, regions, servers, approvals, trusted
// metadata, enrollment tokens, and the audit log, in SQLite (WAL; the embedded default)
// or PostgreSQL. Opening migrates the schema.
#pragma once

#include <memory>
#include <string>

#include "orchestrator/store/audit_log.hpp"
#include "orchestrator/store/database.hpp"
#include "orchestrator/store/migrations.hpp"

namespace pw::store {

class Store {
 public:
  // Creates the schema (and for SQLite the file) when `create` is true; otherwise a
  // store that does not exist yet is Errc::not_found (commands that only read, like
  // `audit verify`, never create one).
  static Result<std::unique_ptr<Store>> open(const Location& where, bool create = true);
  static Result<std::unique_ptr<Store>> open(const std::string& sqlite_path, bool create = true) {
    return open(Location::sqlite(sqlite_path), create);
  }

  Database& db() { return *db_; }
  AuditLog& audit() { return *audit_; }

 private:
  Store() = default;
  std::unique_ptr<Database> db_;
  std::unique_ptr<AuditLog> audit_;
};

}  // namespace pw::store
