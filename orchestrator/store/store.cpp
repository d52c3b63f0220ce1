#include "orchestrator/store/store.hpp"

#include <sys/stat.h>

namespace pw::store {
namespace {

// A PostgreSQL database holds a store once the schema has been created in it.
Result<bool> has_schema(Database& db) {
  PW_TRY_ASSIGN(Statement query,
                db.prepare("SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = "
                           "'schema_migrations' AND schemaname = ANY (current_schemas(false))"));
  PW_TRY(query.step());
  return query.integer(0) > 0;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const Location& where, bool create) {
  struct stat info {};
  if (!create && where.backend == Dialect::sqlite && ::stat(where.path.c_str(), &info) != 0) {
    return make_error(Errc::not_found, where.path + ": no such store");
  }
  std::unique_ptr<Store> store(new Store());
  PW_TRY_ASSIGN(store->db_, Database::open(where));
  if (!create && where.backend == Dialect::postgresql) {
    PW_TRY_ASSIGN(bool exists, has_schema(*store->db_));
    if (!exists) {
      return make_error(Errc::not_found,
                        where.describe() + ": no store in this database (no schema_migrations)");
    }
  }
  PW_TRY(migrate(*store->db_));
  store->audit_ = std::make_unique<AuditLog>(*store->db_);
  return store;
}

}  // namespace pw::store
