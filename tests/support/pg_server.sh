#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, on a free loopback port, its data and unix
# socket in DIR, trusting local connections; fsync off (its data is thrown away).
#   pg_server.sh start DIR   prints postgresql://patchwave@127.0.0.1:PORT/patchwave
#   pg_server.sh stop DIR    stops it at once and removes DIR
# initdb refuses to run as root: as root, the server runs as the unprivileged user
# $PW_PG_USER (default nobody), which gets DIR.
set -euo pipefail
action=${1:?start|stop}
dir=${2:?DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "pg_server.sh: PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/install-deps installs postgresql)" >&2
  exit 1
fi
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "${PW_PG_USER:-nobody}" -- "$@"; else "$@"; fi
}

case $action in
start)
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ "$(id -u)" -eq 0 ] && chown "${PW_PG_USER:-nobody}" "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U patchwave -A trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  for _ in 1 2 3; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-h 127.0.0.1 -p $port -k $dir -F -c max_connections=50" start >/dev/null; then
      as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U patchwave patchwave
      echo "postgresql://patchwave@127.0.0.1:$port/patchwave"
      exit 0
    fi
  done
  echo "pg_server.sh: PostgreSQL did not start; its log:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: pg_server.sh start|stop DIR" >&2
  exit 2
  ;;
esac
