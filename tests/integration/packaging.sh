#!/usr/bin/env bash
# The Debian packages: cpack packages the binaries of the build under test (its
# CPackConfig.cmake, written by cmake/Packaging.cmake; nothing is rebuilt), then the
# result is checked with dpkg-deb: files and their modes, control fields, maintainer
# scripts (run against stubs), the units' hardening, `systemd-analyze verify` when it can
# run here, the packaged binaries and the packaged configuration examples.
#
#   packaging.sh PATCHWAVE PATCHWAVE_AGENT BUILD_DIR      exit 77: no cpack / dpkg-deb
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$SRC/tests/integration/lib.sh"
AGENT_BIN=$2
BUILD=$(cd "$3" && pwd)

for tool in cpack dpkg-deb; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/install-deps)"
    exit 77
  fi
done

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
arch=$(dpkg --print-architecture)
controller_deb=$WORK/pkg/patchwave_${version}_${arch}.deb
agent_deb=$WORK/pkg/patchwave-agent_${version}_${arch}.deb

# --- build ------------------------------------------------------------------------------
# gzip instead of the packages' xz: same contents, a fraction of the time.
start=$(date +%s)
check "cpack packages the build under test" \
  cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg" \
  -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip
echo "     (cpack: $(($(date +%s) - start)) s)"
check "two packages, named NAME_VERSION_ARCH.deb" test -f "$controller_deb" -a -f "$agent_deb"
if [ ! -f "$controller_deb" ] || [ ! -f "$agent_deb" ]; then
  ls -l "$WORK/pkg" || true
  finish
  exit 1
fi

# --- control fields ---------------------------------------------------------------------
# field_is NAME DEB FIELD VALUE / field_has NAME DEB FIELD WORD (a package in a list)
field_is() {
  local got
  got=$(dpkg-deb -f "$2" "$3") || true
  check "$1" test "$got" = "$4"
  [ "$got" = "$4" ] || echo "     | $3: '$got', expected '$4'"
}
field_has() {
  local names
  names=$(dpkg-deb -f "$2" "$3" | tr ',|' '\n\n' | sed 's/^ *//; s/[ (].*//') || true
  check "$1" grep -qxF -- "$4" <<<"$names"
}

for deb in "$controller_deb" "$agent_deb"; do
  check "$(basename "$deb"): dpkg-deb reads it" dpkg-deb --info "$deb"
done
field_is "controller package name" "$controller_deb" Package patchwave
field_is "agent package name" "$agent_deb" Package patchwave-agent
field_is "controller version = project version" "$controller_deb" Version "$version"
field_is "agent version = project version" "$agent_deb" Version "$version"
field_is "controller architecture" "$controller_deb" Architecture "$arch"
field_is "agent architecture" "$agent_deb" Architecture "$arch"
field_is "agent section" "$agent_deb" Section admin
check "controller has a maintainer" test -n "$(dpkg-deb -f "$controller_deb" Maintainer)"
check "controller has a description" test -n "$(dpkg-deb -f "$controller_deb" Description)"
check "agent has a description" test -n "$(dpkg-deb -f "$agent_deb" Description)"
for lib in adduser libc6 libstdc++6 libssl3 libarchive13; do
  field_has "agent depends on $lib" "$agent_deb" Depends "$lib"
done
for lib in adduser tzdata libc6 libssl3 libgit2-1.5 libsqlite3-0 libpq5 libyaml-cpp0.7; do
  field_has "controller depends on $lib" "$controller_deb" Depends "$lib"
done
field_has "controller recommends haproxy" "$controller_deb" Recommends haproxy
check "the agent does not depend on the controller's libraries" \
  bash -c "! dpkg-deb -f '$agent_deb' Depends | grep -qE 'libgit2|libsqlite3|libpq|yaml-cpp'"
if command -v apt-get >/dev/null; then
  # Every Depends resolves on this machine (a simulation: nothing is installed).
  check "apt-get resolves both packages' dependencies (simulated install)" \
    apt-get install -s -q "$controller_deb" "$agent_deb"
fi

# --- files --------------------------------------------------------------------------------
dpkg-deb -c "$controller_deb" >"$WORK/controller.list" || true
dpkg-deb -c "$agent_deb" >"$WORK/agent.list" || true
# has_file NAME LIST MODE PATH: an entry PATH with that mode, owned by root/root
has_file() {
  check "$1" grep -qE "^$3 root/root +[0-9]+ [-0-9]+ [:0-9]+ \.$4\$" "$2"
}
has_file "controller: /usr/bin/patchwave 0755" "$WORK/controller.list" -rwxr-xr-x /usr/bin/patchwave
has_file "controller: its unit" "$WORK/controller.list" -rw-r--r-- /lib/systemd/system/patchwave.service
has_file "controller: its example configuration" "$WORK/controller.list" -rw-r--r-- \
  /etc/patchwave/controller.yaml.example
has_file "agent: /usr/bin/patchwave-agent 0755" "$WORK/agent.list" -rwxr-xr-x /usr/bin/patchwave-agent
has_file "agent: its unit" "$WORK/agent.list" -rw-r--r-- /lib/systemd/system/patchwave-agent.service
has_file "agent: its example configuration" "$WORK/agent.list" -rw-r--r-- \
  /etc/patchwave/agent.json.example
check "agent: no controller file" bash -c "! grep -qE 'bin/patchwave\$|patchwave\.service|controller' '$WORK/agent.list'"
check "controller: no agent file" bash -c "! grep -qE 'patchwave-agent' '$WORK/controller.list'"
check "no shipped state or secrets (/var, tokens, keys)" \
  bash -c "! grep -hE '\./var/|token|\.key\$|\.pem\$|/root\.json\$|\.yaml\$|\.json\$' '$WORK/controller.list' '$WORK/agent.list'"
check "nothing but /usr/bin, /lib/systemd/system, /etc/patchwave" \
  bash -c "! awk '{print \$6}' '$WORK/controller.list' '$WORK/agent.list' | grep -vE '^\./(|usr/|usr/bin/.*|lib/|lib/systemd/|lib/systemd/system/.*|etc/|etc/patchwave/.*)\$'"

# --- maintainer scripts -------------------------------------------------------------------
for pkg in patchwave patchwave-agent; do
  deb=$controller_deb
  [ "$pkg" = patchwave-agent ] && deb=$agent_deb
  dpkg-deb -e "$deb" "$WORK/control-$pkg" || true
  dpkg-deb -x "$deb" "$WORK/root" || true
  c=$WORK/control-$pkg
  for script in postinst prerm postrm; do
    check "$pkg: $script is 0755 and parses (sh -n)" bash -c "test -x '$c/$script' && sh -n '$c/$script'"
  done
  check "$pkg: conffiles lists its example" grep -qx "/etc/patchwave/.*\.example" "$c/conffiles"
  check "$pkg: every conffile is in the package" \
    bash -c "while read -r f; do test -f '$WORK/root'\$f || exit 1; done <'$c/conffiles'"
  check "$pkg: md5sums" test -s "$c/md5sums"

  # postinst configure against stubs: adduser is called once, for a system user.
  stubs=$WORK/stubs-$pkg
  mkdir -p "$stubs"
  printf '#!/bin/sh\necho "$*" >>%s/adduser.calls\n' "$stubs" >"$stubs/adduser"
  printf '#!/bin/sh\nexit 2\n' >"$stubs/getent"  # no such user yet
  printf '#!/bin/sh\necho "$*" >>%s/systemctl.calls\nexit 3\n' "$stubs" >"$stubs/systemctl"
  chmod 755 "$stubs"/*
  check "$pkg: postinst configure (first install) succeeds" \
    env PATH="$stubs:/usr/bin:/bin" sh "$c/postinst" configure ""
  check "$pkg: postinst creates the system user" \
    grep -qx -- "--system --group --home /var/lib/$pkg --no-create-home --gecos .* $pkg" \
    "$stubs/adduser.calls"
  printf '#!/bin/sh\necho "%s:x:999:999::/var/lib/%s:/usr/sbin/nologin"\n' "$pkg" "$pkg" \
    >"$stubs/getent"
  check "$pkg: postinst again (the user exists) succeeds" \
    env PATH="$stubs:/usr/bin:/bin" sh "$c/postinst" configure "$version"
  check "$pkg: the user is created once" test "$(wc -l <"$stubs/adduser.calls")" -eq 1
  check "$pkg: postinst never enables or starts the unit" \
    bash -c "! grep -qE '^(enable|start|restart)' '$stubs/systemctl.calls' 2>/dev/null"
done

# --- units --------------------------------------------------------------------------------
agent_unit=$WORK/root/lib/systemd/system/patchwave-agent.service
controller_unit=$WORK/root/lib/systemd/system/patchwave.service
# unit_is NAME UNIT LINE: that exact KEY=VALUE line
unit_is() { check "$1: $3" grep -qxF -- "$3" "$2"; }
for line in \
  "User=patchwave-agent" "Group=patchwave-agent" \
  "ExecStart=/usr/bin/patchwave-agent run --config /etc/patchwave/agent.json" \
  "StateDirectory=patchwave-agent" "StateDirectoryMode=0700" \
  "ReadWritePaths=/var/lib/patchwave-agent" \
  "NoNewPrivileges=yes" "PrivateTmp=yes" "PrivateDevices=yes" "ProtectSystem=strict" \
  "ProtectHome=yes" "ProtectKernelTunables=yes" "ProtectKernelModules=yes" \
  "ProtectControlGroups=yes" "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
  "LockPersonality=yes" "RestrictSUIDSGID=yes" "RestrictNamespaces=yes" \
  "SystemCallArchitectures=native" "CapabilityBoundingSet=" "Restart=on-failure" \
  "KillMode=mixed" "WantedBy=multi-user.target"; do
  unit_is "agent unit" "$agent_unit" "$line"
done
for line in \
  "User=patchwave" "Group=patchwave" \
  "ExecStart=/usr/bin/patchwave serve --config /etc/patchwave/controller.yaml" \
  "StateDirectory=patchwave" "StateDirectoryMode=0700" "ReadWritePaths=/var/lib/patchwave" \
  "NoNewPrivileges=yes" "PrivateTmp=yes" "PrivateDevices=yes" "ProtectSystem=strict" \
  "ProtectHome=yes" "ProtectKernelTunables=yes" "ProtectKernelModules=yes" \
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "RestrictSUIDSGID=yes" \
  "LockPersonality=yes" "SystemCallArchitectures=native" \
  "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" "Restart=on-failure" \
  "WantedBy=multi-user.target"; do
  unit_is "controller unit" "$controller_unit" "$line"
done
# Things that would break what runs under them: a JIT in a release's service, HAProxy's
# PCRE2 JIT; and no unit may run as root.
check "no unit sets MemoryDenyWriteExecute" \
  bash -c "! grep -q '^MemoryDenyWriteExecute' '$agent_unit' '$controller_unit'"
check "no unit runs as root" bash -c "! grep -qE '^User=(root|0)?\$' '$agent_unit' '$controller_unit'"
check "the agent gets no capability" bash -c "! grep -E '^AmbientCapabilities=.+' '$agent_unit'"

# The units and the examples agree: the config file the unit reads is the example's name,
# and the example's state_dir is the unit's StateDirectory.
agent_example=$WORK/root/etc/patchwave/agent.json.example
controller_example=$WORK/root/etc/patchwave/controller.yaml.example
check "agent example: state_dir is /var/lib/<StateDirectory>" \
  grep -qF '"state_dir": "/var/lib/patchwave-agent"' "$agent_example"
check "controller example: state_dir is /var/lib/<StateDirectory>" \
  grep -qx 'state_dir: /var/lib/patchwave' "$controller_example"

if command -v systemd-analyze >/dev/null && [ -d /lib/systemd/system ]; then
  # verify resolves ExecStart= and the units' dependencies inside --root: the extracted
  # packages plus this machine's own units (sysinit.target, network-online.target, ...).
  sa_root=$WORK/sa-root
  mkdir -p "$sa_root/lib/systemd/system"
  cp -a "$WORK/root/." "$sa_root/"
  cp -rn /lib/systemd/system/. "$sa_root/lib/systemd/system/"
  sa_code=0
  sa_out=$(cd "$WORK" && systemd-analyze verify --root="$sa_root" \
    "$sa_root/lib/systemd/system/patchwave.service" \
    "$sa_root/lib/systemd/system/patchwave-agent.service" 2>&1) || sa_code=$?
  if [ $sa_code -eq 0 ] && [ -z "$sa_out" ]; then
    check "systemd-analyze verify: both units clean" true
  elif grep -qE 'patchwave(-agent)?\.service(:[0-9]+)?: |Unknown (key|section)|Failed to parse|not executable' <<<"$sa_out"; then
    check "systemd-analyze verify: both units clean" false
    sed 's/^/     | /' <<<"$sa_out"
  else
    echo "note systemd-analyze verify cannot run here; skipped. It said:"
    sed 's/^/     | /' <<<"$sa_out" | head -5
  fi
  # The offline exposure score (0 locked down .. 10 unprotected); 3.0 / 3.2 with systemd 252.
  for unit in patchwave-agent:3.3 patchwave:3.5; do
    name=${unit%%:*} limit=${unit#*:}
    exposure=$(cd "$WORK" && systemd-analyze security --offline=yes --root="$sa_root" \
      "$sa_root/lib/systemd/system/$name.service" 2>/dev/null |
      sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p') || true
    if [ -n "$exposure" ]; then
      check "$name unit: systemd-analyze security exposure $exposure <= $limit" \
        awk -v e="$exposure" -v l="$limit" 'BEGIN { exit !(e <= l) }'
    else
      echo "note systemd-analyze security --offline is not available: exposure not scored"
    fi
  done
else
  echo "note systemd-analyze is not installed (package systemd): units not verified"
fi

# --- the packaged binaries and configuration examples ---------------------------------------
pkg_pw=$WORK/root/usr/bin/patchwave
pkg_agent=$WORK/root/usr/bin/patchwave-agent
check "packaged patchwave --help" "$pkg_pw" --help
check "packaged patchwave serve --help" "$pkg_pw" serve --help
check "packaged patchwave ca token --help" "$pkg_pw" ca token --help
check "packaged patchwave-agent --help" "$pkg_agent" --help
check "packaged patchwave-agent run --help" "$pkg_agent" run --help
check "packaged patchwave --version" "$pkg_pw" --version
expect_out "patchwave --version prints the package version" "$version"
check "packaged binaries are stripped" \
  bash -c "! readelf -S '$pkg_pw' '$pkg_agent' | grep -q '\.symtab'"
check "packaged agent is the build's agent (same --help)" \
  bash -c "diff <('$pkg_agent' run --help) <('$AGENT_BIN' run --help)"

# The example configurations load: every key known, every required key present. Each run
# stops at a point after loading that has no side effect (a name the agent refuses; a
# state_dir under a regular file that the controller cannot create).
refuse "agent example: loads, fails only on the bad --name" "name: 'NOT VALID'" \
  "$pkg_agent" run --config "$agent_example" --name "NOT VALID"
touch "$WORK/not-a-dir"
sed "s|^state_dir: .*|state_dir: $WORK/not-a-dir/state|" "$controller_example" >"$WORK/controller.yaml"
refuse "controller example: loads, fails only on the state_dir" "$WORK/not-a-dir/state" \
  timeout 20 "$pkg_pw" serve --config "$WORK/controller.yaml"

check "scripts/package --help" "$SRC/scripts/package" --help
expect_out "scripts/package --help names its build directory" "build/package"

finish
