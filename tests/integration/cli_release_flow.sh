#!/usr/bin/env bash
# The release engineer's path through the real binary: keys, repo init, a 2-of-3
# signed release, publish as git commits, verify by path, ref and file:// URL.
source "$(dirname "$0")/lib.sh"

check "key generate" pw key generate --out keys/alice
cp "$WORK/out" "$WORK/keyid"
check "key id printed" grep -qE '^[0-9a-f]{64}$' "$WORK/keyid"
check "private key is 0600" test "$(stat -c %a keys/alice)" = 600
refuse "key generate refuses to overwrite" "already exists" pw key generate --out keys/alice
check "key generate ecdsa" pw key generate --out keys/ecdsa --type ecdsa --output json
expect_out "ecdsa key json" '"scheme":"ecdsa-sha2-nistp256"'
rm keys/alice keys/alice.pub

make_repo repo
check "verify the empty published repository" pw verify --repo repo --root repo/metadata/1.root.json
expect_out "verify says OK" "verified: OK"

make_tarball dist/demo-service-1.0.1.tar.gz 1.0.1
check "release add" pw release add repo dist/demo-service-1.0.1.tar.gz --app demo-service \
  --version 1.0.1 --cve CVE-2026-12345 --urgency emergency --run 'bin/demo-service --port 8080' \
  --env MODE=prod --health http:8080/healthz --health-successes 2
expect_out "release add names the target" "demo-service/1.0.1/demo-service-1.0.1.tar.gz"
check "first signature" pw release sign repo --key keys/alice
expect_out "sign reports 1 of 2" "1 of 2 signatures"
refuse "publish refuses 1 of 2" "signature threshold not met for role targets: 1 of 2 required" \
  pw release publish repo --snapshot-key keys/online --timestamp-key keys/online
check "second signature" pw release sign repo --key keys/bob
expect_out "sign reports 2 of 2" "2 of 2 signatures"
check "publish" pw release publish repo --snapshot-key keys/online --timestamp-key keys/online --output json
expect_out "publish reports the new target" '"new_targets":["demo-service/1.0.1/demo-service-1.0.1.tar.gz"]'
git -C repo log --format=%s >"$WORK/out"
expect_out "git history names the release" "release publish: demo-service 1.0.1 (emergency, CVE-2026-12345)"
expect_out "git history names each signature" "release sign: key"

T=$(target_of 1.0.1)
check "verify a target" pw verify --repo repo --root repo/metadata/1.root.json --target "$T"
expect_out "verify shows the release" "release:    demo-service 1.0.1, emergency, CVE-2026-12345"
check "verify json" pw verify --repo repo --root repo/metadata/1.root.json --target "$T" --output json
cp "$WORK/out" "$WORK/report.json"
check "json report fields" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is True, r
assert r["targets"]["version"] == 2, r
assert r["target"]["release"]["health"] == {"kind": "http", "port": 8080, "path": "/healthz",
    "interval_ms": 1000, "timeout_ms": 1000, "successes": 2}, r
assert r["target"]["release"]["run"]["env"] == {"MODE": "prod"}, r
assert len(r["commit"]) == 40
' "$WORK/report.json"

git -C repo tag v1.0.1
add_release repo 1.0.2
check "verify by file:// URL at main" pw verify --repo "file://$WORK/repo@main" --root repo/metadata/1.root.json --target "$(target_of 1.0.2)"
check "verify at an older tag" pw verify --repo "repo@v1.0.1" --root repo/metadata/1.root.json --target "$T" --output json
expect_out "the tag shows targets version 2" '"version": 2'
refuse "a target added later is not in the older tag" "is not listed in targets.json" \
  pw verify --repo "repo@v1.0.1" --root repo/metadata/1.root.json --target "$(target_of 1.0.2)"
refuse "unknown ref" "nope" pw verify --repo "repo@nope" --root repo/metadata/1.root.json

printf 'plain\n' >dist/notes.txt
refuse "a plain target needs --name" "needs an explicit --name" pw release add repo dist/notes.txt
check "plain target" pw release add repo dist/notes.txt --name docs/notes.txt --sha512 --output json
expect_out "plain target lists sha512 when asked" '"sha512"'
refuse "same app and version twice" "demo-service@1.0.2 is already released" \
  pw release add repo dist/demo-service-1.0.1.tar.gz --app demo-service --version 1.0.2 --run bin/x --health tcp:1
refuse "bad semver" "is not a semantic version" \
  pw release add repo dist/notes.txt --app demo-service --version 1.0 --run bin/x --health tcp:1
refuse "bad CVE" "is not a CVE id" \
  pw release add repo dist/notes.txt --app demo-service --version 9.0.0 --cve CVE-1 --run bin/x --health tcp:1
refuse "bad health" "is not http:PORT/PATH" \
  pw release add repo dist/notes.txt --app demo-service --version 9.0.0 --run bin/x --health http:abc

# Emergency countersignatures: security officers vouch for an emergency release, one at
# a time, in countersignatures/TARGET.json (committed).
pw key generate --out keys/dana >"$WORK/dana.keyid" 2>/dev/null
pw key generate --out keys/erin >"$WORK/erin.keyid" 2>/dev/null
check "countersign picks the one emergency release" pw release countersign repo --key keys/dana
expect_out "countersign names the release" "countersigned emergency release $T"
expect_out "countersign counts 1 signature" "now has 1 signature;"
check "second officer countersigns" pw release countersign repo --key keys/erin --target "$T"
expect_out "countersign counts 2 signatures" "now has 2 signatures;"
refuse "the same officer twice" "already countersigned $T" \
  pw release countersign repo --key keys/dana --target "$T"
refuse "nothing left for that officer" "has countersigned every emergency release" \
  pw release countersign repo --key keys/dana
refuse "a routine release is refused" "a countersignature is for the emergency path only" \
  pw release countersign repo --key keys/dana --target "$(target_of 1.0.2)"
refuse "a plain target is refused" "a plain target, not a release" \
  pw release countersign repo --key keys/dana --target docs/notes.txt
refuse "an unknown target is refused" "is not a target of staged/targets.json" \
  pw release countersign repo --key keys/dana --target demo-service/9.9.9/nope.tar.gz
check "the countersignature document has both officers' signatures" python3 -c '
import json, re, sys
doc = json.load(open(sys.argv[1]))
targets = json.load(open(sys.argv[2]))["signed"]["targets"]
officers = [open(f).read().strip() for f in sys.argv[4:6]]
s = doc["signed"]
assert set(doc) == {"signed", "signatures"}, doc
assert s["_type"] == "countersignature" and s["urgency"] == "emergency", s
assert s["target"] == sys.argv[3], s
assert s["sha256"] == targets[sys.argv[3]]["hashes"]["sha256"], s
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["issued"]), s
assert [sig["keyid"] for sig in doc["signatures"]] == officers, doc["signatures"]
assert all(re.fullmatch("[0-9a-f]+", sig["sig"]) for sig in doc["signatures"])
' "repo/countersignatures/$T.json" repo/metadata/targets.json "$T" "$WORK/dana.keyid" "$WORK/erin.keyid"
git -C repo log --format=%s >"$WORK/out"
expect_out "git history names the countersignature" "release countersign: key"
make_tarball dist/demo-service-1.0.3.tar.gz 1.0.3
make_tarball dist/demo-service-1.0.4.tar.gz 1.0.4
for v in 1.0.3 1.0.4; do
  pw release add repo "dist/demo-service-$v.tar.gz" --app demo-service --version "$v" \
    --urgency emergency --run bin/demo-service --health tcp:8080 >/dev/null
done
refuse "two staged emergency releases need --target" "choose one with --target" \
  pw release countersign repo --key keys/dana
refuse "the candidates are listed" "$(target_of 1.0.3), $(target_of 1.0.4)" \
  pw release countersign repo --key keys/dana
check "a staged emergency release can be countersigned" \
  pw release countersign repo --key keys/dana --target "$(target_of 1.0.4)"
check "then the other one is the default" pw release countersign repo --key keys/dana
expect_out "the default is the one left" "countersigned emergency release $(target_of 1.0.3)"

for cmd in "" "key generate" "repo init" "release add" "release sign" "release publish" "release countersign" "root rotate" "verify"; do
  # shellcheck disable=SC2086
  check "--help ${cmd:-(top)}" pw $cmd --help
  [ -z "$cmd" ] || expect_out "--help $cmd has an example" "Example"
done
code=0; pw release >/dev/null 2>&1 || code=$?
check "usage error exits 2" test "$code" = 2

finish
