#!/usr/bin/env bash
# Packs the demo service into the three release tarballs of Patchwave's demo, byte for
# byte the same on every run (sorted entries, fixed owner and times):
#   demo-service-1.0.0.tar.gz   the "vulnerable" release everyone runs at first
#   demo-service-1.0.1.tar.gz   the fix
#   demo-service-1.0.2.tar.gz   broken: every request to / answers 500
# Each holds bin/demo_service.py and bin/demo-service, a launcher with its version (and
# 1.0.2's mode) built in; the agent starts it as `bin/demo-service --host H --port P`.
#
#   examples/demo-service/package.sh OUTDIR
set -euo pipefail
case "${1:-}" in
  -h|--help|"") sed -n '2,10p' "$0"; [ -n "${1:-}" ]; exit $? ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for spec in 1.0.0:ok 1.0.1:ok 1.0.2:error-5xx; do
  version=${spec%%:*} mode=${spec##*:}
  dir="$stage/$version"
  mkdir -p "$dir/bin"
  cp "$here/demo_service.py" "$dir/bin/demo_service.py"
  cat >"$dir/bin/demo-service" <<LAUNCHER
#!/bin/sh
# demo-service $version: the release's own launcher.
exec python3 "\$(dirname "\$0")/demo_service.py" --version $version --mode \${DEMO_MODE:-$mode} "\$@"
LAUNCHER
  chmod 755 "$dir/bin/demo-service" "$dir/bin/demo_service.py"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 -C "$dir" -cf - . |
    gzip -n -9 >"$out/demo-service-$version.tar.gz.tmp"
  mv "$out/demo-service-$version.tar.gz.tmp" "$out/demo-service-$version.tar.gz"
  echo "$out/demo-service-$version.tar.gz"
done
