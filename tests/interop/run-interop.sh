#!/usr/bin/env bash
# Interoperability with tuf-js, both directions (exit 77 = skipped: no Node.js 20+).
#  a. repositories made by tuf-js alone (tests/fixtures/tufjs) verify with patchwave,
#     root rotation and ECDSA keys included, from a directory and from git;
#  b. repositories made by the patchwave CLI verify with tuf-js's own code, and a
#     tampered one does not.
#   run-interop.sh PATCHWAVE_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixtures="$here/../fixtures/tufjs"
export PW_BIN=$1
source "$here/../integration/lib.sh"

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "skipped: Node.js 20 or newer is needed for the tuf-js interoperability test"
  exit 77
fi
if [ ! -d "$here/node_modules/@tufjs/models" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent)
fi

# a. tuf-js -> patchwave
for layout in basic consistent; do
  for t in docs/readme.txt demo-service/1.0.1/demo-service-1.0.1.tar.gz; do
    check "patchwave verifies tuf-js $layout repository, target $t" \
      pw verify --repo "$fixtures/$layout" --root "$fixtures/$layout/metadata/1.root.json" --target "$t" --output json
  done
  cp "$WORK/out" "$WORK/report.json"
  check "$layout: root rotated to version 2, release description read" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["root"]["version"] == 2 and r["root"]["rotated_through"] == [2], r
assert r["target"]["release"]["cves"] == ["CVE-2026-12345"], r
' "$WORK/report.json"
  rm -rf "git-$layout"; cp -r "$fixtures/$layout" "git-$layout"
  git -C "git-$layout" init -q -b main && commit_all "git-$layout" "tuf-js fixture"
  check "patchwave verifies tuf-js $layout repository from git over file://" \
    pw verify --repo "file://$WORK/git-$layout@main" --root "$fixtures/$layout/metadata/1.root.json" \
    --target docs/readme.txt
done

# b. patchwave -> tuf-js
for layout in default consistent; do
  extra=(); [ "$layout" = consistent ] && extra=(--consistent-snapshot)
  rm -rf keys; make_repo "repo-$layout" "${extra[@]}"
  add_release "repo-$layout" 1.0.1
  pw key generate --out keys/root2 --type ecdsa >/dev/null 2>&1
  pw root rotate "repo-$layout" --root-key keys/root2.pub >/dev/null
  pw release sign "repo-$layout" --key keys/root >/dev/null
  pw release sign "repo-$layout" --key keys/root2 >/dev/null
  pw release publish "repo-$layout" --snapshot-key keys/online --timestamp-key keys/online >/dev/null
  check "tuf-js verifies the patchwave $layout repository (rotated root, release)" \
    node "$here/verify-repo.mjs" "repo-$layout" --target "$(target_of 1.0.1)"
  cp -r "repo-$layout" "tampered-$layout"
  python3 - "tampered-$layout"/metadata/*targets.json <<'PY'
import json, sys
for path in sys.argv[1:]:
    doc = json.load(open(path))
    doc["signed"]["expires"] = "2099-12-31T00:00:00Z"
    open(path, "w").write(json.dumps(doc))
PY
  code=0; node "$here/verify-repo.mjs" "tampered-$layout" >/dev/null 2>&1 || code=$?
  check "tuf-js refuses the tampered $layout copy" test "$code" -ne 0
done

# c. the documented JSON schemas match what both sides write
check "manifests/examples match manifests/schemas" node "$here/check-schemas.mjs"
for r in "$fixtures/basic" "$fixtures/consistent" repo-default repo-consistent; do
  check "schemas accept $(basename "$r")" node "$here/check-schemas.mjs" "$r"
done
mkdir -p broken/metadata && cp repo-default/metadata/timestamp.json broken/metadata/
python3 -c "
import json, sys
p = sys.argv[1]; d = json.load(open(p)); d['signed']['version'] = 0; json.dump(d, open(p, 'w'))
" broken/metadata/timestamp.json
code=0; node "$here/check-schemas.mjs" broken >/dev/null 2>&1 || code=$?
check "schemas refuse a version 0 timestamp" test "$code" -ne 0

finish
