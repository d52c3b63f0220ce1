# Third-party libraries, all from Debian packages (see scripts/install-deps).
# Each is linked only by the module that adapts it.
find_package(OpenSSL 3.0 REQUIRED)
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(LibArchive 3.6 REQUIRED)
find_package(LibLZMA 5.2 REQUIRED)  # common/archive decodes xz itself, with a memory limit
find_package(yaml-cpp 0.7 CONFIG REQUIRED)  # fleet policy and controller configuration
find_package(date CONFIG REQUIRED)          # date::date-tz: maintenance windows in time zones
if(NOT PATCHWAVE_FUZZ)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2>=1.5)
  find_package(CLI11 2.1 CONFIG REQUIRED)
  # Asio/Beast (common/net) and Process (agents/service); Process needs filesystem linked.
  find_package(Boost 1.74 CONFIG REQUIRED COMPONENTS filesystem)
  find_package(SQLite3 REQUIRED)              # orchestrator/store (embedded default)
  pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq>=10)  # orchestrator/store (PostgreSQL)
  if(PATCHWAVE_TESTS)
    find_package(Catch2 2 CONFIG REQUIRED)
  endif()
endif()
