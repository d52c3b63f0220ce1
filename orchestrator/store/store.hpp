// The controller's state store (SQLite, WAL): rollouts, regions, servers, approvals,
// trusted metadata, enrollment tokens, and the audit log. Opening migrates the schema.
#pragma once

#include <memory>
#include <string>

#include "orchestrator/store/audit_log.hpp"
#include "orchestrator/store/migrations.hpp"
#include "orchestrator/store/sqlite.hpp"

namespace pw::store {

class Store {
 public:
  // Creates the database when `create` is true; otherwise a missing file is
  // Errc::not_found (commands that only read, like `audit verify`, never create one).
  static Result<std::unique_ptr<Store>> open(const std::string& path, bool create = true);

  Database& db() { return *db_; }
  AuditLog& audit() { return *audit_; }

 private:
  Store() = default;
  std::unique_ptr<Database> db_;
  std::unique_ptr<AuditLog> audit_;
};

}  // namespace pw::store
