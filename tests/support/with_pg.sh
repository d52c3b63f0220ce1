#!/usr/bin/env bash
# Runs COMMAND with PATCHWAVE_TEST_PG_URL naming a throwaway PostgreSQL server
# (pg_server.sh), which is stopped and removed afterwards, also on failure. A server
# that cannot start fails the test: scripts/install-deps installs PostgreSQL.
#   with_pg.sh COMMAND [ARGS...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/pw-pg-XXXXXX")
trap 'bash "$here/pg_server.sh" stop "$dir"' EXIT
if ! url=$(bash "$here/pg_server.sh" start "$dir"); then
  echo "with_pg.sh: cannot start a PostgreSQL server for the test" >&2
  exit 1
fi
export PATCHWAVE_TEST_PG_URL=$url
"$@"
