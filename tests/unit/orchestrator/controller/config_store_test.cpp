// The `store` section of controller.yaml (orchestrator/controller/config.cpp).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "orchestrator/controller/config.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

struct Loaded {
  pw::test::TempDir dir;
  pw::Result<pw::controller::Config> config = pw::make_error(pw::Errc::internal, "not loaded");

  explicit Loaded(const std::string& store) {
    pw::test::write_file(dir / "controller.yaml", "state_dir: " + dir.path() +
                                                      "/state\n"
                                                      "manifests:\n"
                                                      "  repository: file:///srv/manifests@main\n"
                                                      "  root: /etc/patchwave/root.json\n" +
                                                      store);
    config = pw::controller::load_config(dir / "controller.yaml");
  }
};

std::string error_of(const std::string& store) {
  Loaded loaded(store);
  REQUIRE_FALSE(loaded.config.ok());
  return loaded.config.error().to_string();
}

}  // namespace

TEST_CASE("controller.yaml: the store is SQLite in the state directory unless it says otherwise") {
  Loaded plain("");
  REQUIRE(plain.config.ok());
  CHECK(plain.config->store.backend == pw::store::Dialect::sqlite);
  CHECK(plain.config->store.path == plain.dir.path() + "/state/store.db");

  Loaded elsewhere("store: {backend: sqlite, path: /srv/pw/store.db}\n");
  REQUIRE(elsewhere.config.ok());
  CHECK(elsewhere.config->store.path == "/srv/pw/store.db");
}

TEST_CASE("controller.yaml: a PostgreSQL store, its password from a file or a variable") {
  Loaded no_password("store: {backend: postgresql, url: 'postgresql://pw@127.0.0.1/patchwave'}\n");
  REQUIRE(no_password.config.ok());
  CHECK(no_password.config->store.backend == pw::store::Dialect::postgresql);
  CHECK(no_password.config->store.url == "postgresql://pw@127.0.0.1/patchwave");
  CHECK(no_password.config->store.password.empty());

  pw::test::TempDir dir;
  pw::test::write_file(dir / "password", "s3cret\nignored\n");
  ::chmod((dir / "password").c_str(), 0600);
  Loaded from_file(
      "store:\n  backend: postgresql\n  url: postgresql://pw@db/patchwave\n"
      "  password_file: " +
      dir / "password" + "\n");
  REQUIRE(from_file.config.ok());
  CHECK(from_file.config->store.password == "s3cret");

  ::setenv("PW_TEST_STORE_PASSWORD", "from-env", 1);
  Loaded from_env(
      "store: {backend: postgresql, url: 'postgresql://pw@db/patchwave', "
      "password_env: PW_TEST_STORE_PASSWORD}\n");
  ::unsetenv("PW_TEST_STORE_PASSWORD");
  REQUIRE(from_env.config.ok());
  CHECK(from_env.config->store.password == "from-env");
}

TEST_CASE("controller.yaml: a bad store setting names the field and the rule") {
  CHECK_THAT(error_of("store: {backend: mysql}\n"),
             Catch::Contains("store.backend: must be sqlite or postgresql"));
  CHECK_THAT(error_of("store: {backend: postgresql}\n"),
             Catch::Contains("store.url: is required for backend postgresql"));
  CHECK_THAT(error_of("store: {url: 'postgresql://pw@db/x'}\n"),
             Catch::Contains("store.url: only for backend postgresql"));
  CHECK_THAT(error_of("store: {backend: postgresql, url: 'postgresql://pw@db/x', path: /x}\n"),
             Catch::Contains("store.path: only for backend sqlite"));
  CHECK_THAT(error_of("store: {backend: postgresql, url: 'mysql://db/x'}\n"),
             Catch::Contains("store.url: the PostgreSQL URL must start with postgresql://"));
  CHECK_THAT(error_of("store: {backend: sqlite, size: 3}\n"),
             Catch::Contains("store.size: unknown key"));
  auto with_password =
      error_of("store: {backend: postgresql, url: 'postgresql://pw:hunter2@db/x'}\n");
  CHECK_THAT(with_password,
             Catch::Contains("store.url: the PostgreSQL URL must not carry a password"));
  CHECK_THAT(with_password, !Catch::Contains("hunter2"));
  CHECK_THAT(error_of("store: {backend: postgresql, url: 'postgresql://pw@db/x', password_env: "
                      "PW_TEST_UNSET_VARIABLE}\n"),
             Catch::Contains("store.password_env: the environment variable PW_TEST_UNSET_VARIABLE "
                             "is not set"));
  CHECK_THAT(error_of("store: {backend: postgresql, url: 'postgresql://pw@db/x', password_file: "
                      "/nonexistent/pw, password_env: X}\n"),
             Catch::Contains("store.password_file: give password_file or password_env, not both"));

  pw::test::TempDir dir;
  pw::test::write_file(dir / "open", "s3cret\n");
  ::chmod((dir / "open").c_str(), 0644);
  auto readable = error_of(
      "store: {backend: postgresql, url: 'postgresql://pw@db/x', "
      "password_file: " +
      dir / "open" + "}\n");
  CHECK_THAT(readable,
             Catch::Contains("store.password_file: " + dir / "open" + " is readable by others"));
  pw::test::write_file(dir / "empty", "");
  ::chmod((dir / "empty").c_str(), 0600);
  CHECK_THAT(error_of("store: {backend: postgresql, url: 'postgresql://pw@db/x', password_file: " +
                      dir / "empty" + "}\n"),
             Catch::Contains("must hold the password on its first line"));
}
