#include "tests/support/test_store.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace pw::test {
namespace {

const char* server_url() {
  const char* url = std::getenv("PATCHWAVE_TEST_PG_URL");
  return url != nullptr && *url != '\0' ? url : nullptr;
}

// The URL with its database name replaced: postgresql://USER@HOST:PORT/NAME[?...]
std::string with_database(const std::string& url, const std::string& name) {
  auto authority = url.find("://");
  auto slash = url.find('/', authority == std::string::npos ? 0 : authority + 3);
  auto query = url.find('?', slash == std::string::npos ? 0 : slash);
  std::string base = slash == std::string::npos ? url.substr(0, query) : url.substr(0, slash);
  std::string rest = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + name + rest;
}

}  // namespace

bool testing_postgresql() { return server_url() != nullptr; }

store::Location fresh_store(const TempDir& dir, const std::string& file) {
  const char* url = server_url();
  if (url == nullptr) return store::Location::sqlite(dir / file);
  static std::atomic<int> counter{0};
  std::string name = "pw_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  auto server = store::Location::postgresql(url);
  if (!server.ok()) throw std::runtime_error("PATCHWAVE_TEST_PG_URL: " + server.error().message);
  auto admin = store::Database::open(*server);
  if (!admin.ok()) throw std::runtime_error(admin.error().to_string());
  auto made = (*admin)->exec("CREATE DATABASE " + name);
  if (!made.ok()) throw std::runtime_error(made.error().to_string());
  auto where = store::Location::postgresql(with_database(url, name));
  if (!where.ok()) throw std::runtime_error(where.error().message);
  return *where;
}

}  // namespace pw::test
