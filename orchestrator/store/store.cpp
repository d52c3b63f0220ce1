#include "orchestrator/store/store.hpp"

#include <sys/stat.h>

namespace pw::store {

Result<std::unique_ptr<Store>> Store::open(const std::string& path, bool create) {
  struct stat info {};
  if (!create && ::stat(path.c_str(), &info) != 0) {
    return make_error(Errc::not_found, path + ": no such store");
  }
  std::unique_ptr<Store> store(new Store());
  PW_TRY_ASSIGN(store->db_, Database::open(path));
  PW_TRY(migrate(*store->db_));
  store->audit_ = std::make_unique<AuditLog>(*store->db_);
  return store;
}

}  // namespace pw::store
