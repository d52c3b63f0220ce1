#!/usr/bin/env bash
# Hardened staging through the real binaries: `patchwave release inspect`, `release add`
# refusing what agents would refuse, and `patchwave-agent unpack` (verify first, then
# extract into DIR/<sha256>/ atomically, nothing written outside).
#   cli_staging.sh PATCHWAVE PATCHWAVE_AGENT
AGENT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
agent() { "$AGENT" "$@"; }

# Benign: nested dirs, an in-tree symlink, a hardlink, an empty file, a 5 MB file.
mkdir -p src/bin src/share/doc
printf '#!/bin/sh\necho hi\n' >src/bin/demo && chmod 755 src/bin/demo
: >src/share/empty
head -c 5000000 /dev/urandom >src/share/big.bin
ln -s ../../bin/demo src/share/doc/demo-link
ln src/share/big.bin src/share/big-hardlink.bin
tar -czf good.tar.gz -C src .
GOOD_SHA=$(sha256sum good.tar.gz | cut -d' ' -f1)

# Hostile ones (python's tarfile writes what we ask).
python3 - <<'PY'
import io, tarfile
def make(name, entries):
    with tarfile.open(name, "w") as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
def f(name, data=b"x", mode=0o644):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; return (i, data)
def link(name, target, kind=tarfile.SYMTYPE):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; return (i, None)
make("escape-symlink.tar", [link("evil", "../../canary"), f("evil", b"overwrite")])
make("dotdot.tar", [f("../canary", b"pwned")])
make("absolute.tar", [f("/tmp/pw-canary-absolute", b"pwned")])
dev = tarfile.TarInfo("dev"); dev.type = tarfile.CHRTYPE; dev.devmajor = 1; dev.devminor = 3
make("device.tar", [(dev, None)])
make("setuid.tar", [f("bin/su", b"#!", 0o4755)])
PY
printf 'not an archive at all\n' >text.tar.gz

check "inspect a benign archive" pw release inspect good.tar.gz
expect_out "inspect lists the symlink" "share/doc/demo-link -> ../../bin/demo"
expect_out "inspect says agents accept it" "ok: agents will accept this archive"
check "inspect json" pw release inspect good.tar.gz --output json
cp "$WORK/out" "$WORK/inspect.json"
check "inspect json totals" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["totals"]["symlinks"] == 1 and r["totals"]["hardlinks"] == 1, r["totals"]
assert r["compression"] == "gzip", r["compression"]
' "$WORK/inspect.json"
for evil in escape-symlink dotdot absolute device setuid; do
  code=0; pw release inspect $evil.tar >"$WORK/inspect.txt" 2>&1 || code=$?
  check "inspect refuses $evil.tar (exit 1)" test "$code" = 1
  check "inspect names the entry and the rule in $evil.tar" grep -q "^REFUSED " "$WORK/inspect.txt"
done
code=0; pw release inspect text.tar.gz >"$WORK/inspect.txt" 2>&1 || code=$?
check "inspect refuses what is not an archive" test "$code" = 1
check "and says so" grep -q "REFUSED (archive): not a tar archive" "$WORK/inspect.txt"

make_repo repo
refuse "release add refuses an archive agents would refuse" "agents would refuse this archive" \
  pw release add repo escape-symlink.tar --app demo-service --version 9.9.9 --run bin/demo --health tcp:8080
check "nothing was staged for it" test ! -e repo/staged/targets.json
check "release add accepts the benign archive" pw release add repo good.tar.gz --app demo-service \
  --version 1.0.0 --run bin/demo --health tcp:8080 --archive-limit max_entries=100
T=demo-service/1.0.0/good.tar.gz
pw release sign repo --key keys/alice >/dev/null; pw release sign repo --key keys/bob >/dev/null
pw release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null

mkdir -p expected && tar -xzf good.tar.gz -C expected
check "agent unpack by sha256" agent unpack good.tar.gz --into releases --sha256 "$GOOD_SHA"
check "byte-exact against tar -xf" diff -r expected "releases/$GOOD_SHA"
check "symlink kept as a symlink" test "$(readlink "releases/$GOOD_SHA/share/doc/demo-link")" = ../../bin/demo
check "executable bit kept" test -x "releases/$GOOD_SHA/bin/demo"
check "unpack again is a no-op" agent unpack good.tar.gz --into releases --sha256 "$GOOD_SHA"
expect_out "says already staged" "already staged"

refuse "a wrong sha256 is refused before extraction" "sha256 does not match the signed hash" \
  agent unpack good.tar.gz --into r2 --sha256 "$(printf '0%.0s' {1..64})"
check "nothing left behind" test -z "$(ls -A r2 2>/dev/null)"

mkdir -p jail && touch jail/canary.orig
for evil in escape-symlink dotdot absolute device setuid; do
  sha=$(sha256sum $evil.tar | cut -d' ' -f1)
  code=0; (cd jail && "$AGENT" unpack ../$evil.tar --into rel --sha256 "$sha" >"$WORK/out" 2>"$WORK/err") || code=$?
  check "agent refuses $evil.tar" test "$code" = 1
  check "$evil.tar: no release directory, no staging left" test -z "$(ls -A jail/rel 2>/dev/null)"
done
check "no canary written anywhere" test ! -e canary -a ! -e jail/canary -a ! -e /tmp/pw-canary-absolute

check "agent unpack against signed metadata" agent unpack good.tar.gz --into r3 --metadata repo \
  --target "$T" --root repo/metadata/1.root.json --output json
expect_out "json names the release directory" "\"sha256\":\"$GOOD_SHA\""
refuse "an artifact that is not the signed one" "signed length is" \
  agent unpack setuid.tar --into r4 --metadata repo --target "$T" --root repo/metadata/1.root.json
OTHER_ROOT=$HERE/../fixtures/tufjs/basic/metadata/1.root.json
refuse "metadata that does not verify against the pinned root" "signature threshold not met for role timestamp" \
  agent unpack good.tar.gz --into r5 --metadata repo --target "$T" --root "$OTHER_ROOT"
check "nothing staged for it" test ! -e r5
check "--help has an example" agent unpack --help
expect_out "example shown" "Example"

finish
