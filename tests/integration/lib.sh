# Helpers for black-box tests of the real binaries. Source it; $1 of the test script
# is the patchwave binary.
set -euo pipefail

PW_BIN=${PW_BIN:-$1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-it-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.invalid
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.invalid
FAILURES=0
TESTS=0

pw() { "$PW_BIN" "$@"; }

# check NAME COMMAND... : the command must succeed.
check() {
  local name=$1; shift
  TESTS=$((TESTS + 1))
  if "$@" >"$WORK/out" 2>"$WORK/err"; then
    echo "ok   $name"
  else
    echo "FAIL $name (exit $?)"; sed 's/^/     | /' "$WORK/err" "$WORK/out" | head -20
    FAILURES=$((FAILURES + 1))
  fi
}

# refuse NAME 'PATTERN' COMMAND... : the command must exit 1 and its stderr must contain
# PATTERN (a fixed string): the file and the rule the error names.
refuse() {
  local name=$1 pattern=$2; shift 2
  TESTS=$((TESTS + 1))
  local code=0
  "$@" >"$WORK/out" 2>"$WORK/err" || code=$?
  if [ "$code" -eq 1 ] && grep -qF -- "$pattern" "$WORK/err"; then
    echo "ok   $name"
  else
    echo "FAIL $name: expected exit 1 and stderr containing: $pattern"
    echo "     got exit $code, stderr:"; sed 's/^/     | /' "$WORK/err" | head -10
    FAILURES=$((FAILURES + 1))
  fi
}

# expect NAME 'PATTERN' : the last command's stdout must contain PATTERN.
expect_out() {
  local name=$1 pattern=$2
  TESTS=$((TESTS + 1))
  if grep -qF -- "$pattern" "$WORK/out"; then
    echo "ok   $name"
  else
    echo "FAIL $name: stdout lacks: $pattern"; sed 's/^/     | /' "$WORK/out" | head -20
    FAILURES=$((FAILURES + 1))
  fi
}

finish() {
  echo "$((TESTS - FAILURES)) passed, $FAILURES failed"
  [ "$FAILURES" -eq 0 ]
}

# make_repo DIR [extra repo init args...]: keys in ./keys (root, alice, bob, carol,
# online), a 2-of-3 targets threshold, root v1 and empty targets published.
make_repo() {
  local dir=$1; shift
  if [ ! -f keys/root ]; then
    for k in root alice bob carol online; do pw key generate --out "keys/$k" >/dev/null 2>&1; done
  fi
  pw repo init "$dir" --root-key keys/root.pub \
    --targets-key keys/alice.pub --targets-key keys/bob.pub --targets-key keys/carol.pub \
    --targets-threshold 2 --snapshot-key keys/online.pub --timestamp-key keys/online.pub "$@" >/dev/null
  pw release sign "$dir" --key keys/root >/dev/null
  pw release sign "$dir" --key keys/alice >/dev/null
  pw release sign "$dir" --key keys/bob >/dev/null
  pw release publish "$dir" --snapshot-key keys/online --timestamp-key keys/online >/dev/null
}

# make_tarball FILE VERSION: a small, benign release tarball.
make_tarball() {
  local file=$1 version=$2 src
  src=$(mktemp -d "$WORK/src-XXXXXX")
  mkdir -p "$src/bin" "$(dirname "$file")"
  printf '#!/bin/sh\necho demo-service %s\n' "$version" >"$src/bin/demo-service"
  chmod 755 "$src/bin/demo-service"
  printf 'version %s\n' "$version" >"$src/VERSION"
  tar -czf "$file" -C "$src" .
  rm -rf "$src"
}

# add_release DIR VERSION [extra release add args]: a signed, published release.
add_release() {
  local dir=$1 version=$2; shift 2
  make_tarball "dist/demo-service-$version.tar.gz" "$version"
  pw release add "$dir" "dist/demo-service-$version.tar.gz" --app demo-service --version "$version" \
    --run 'bin/demo-service --port 8080' --health http:8080/healthz "$@" >/dev/null
  pw release sign "$dir" --key keys/alice >/dev/null
  pw release sign "$dir" --key keys/carol >/dev/null
  pw release publish "$dir" --snapshot-key keys/online --timestamp-key keys/online >/dev/null
}

target_of() { echo "demo-service/$1/demo-service-$1.tar.gz"; }

# commit_all DIR MESSAGE: a commit made with the git CLI (as an attacker or a careless
# hand would), bypassing patchwave.
commit_all() { git -C "$1" add -A && git -C "$1" commit -qm "$2"; }

# edit_json FILE PYTHON: applies a python expression to `doc` (the parsed file).
edit_json() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
exec(code)
open(path, "w").write(json.dumps(doc, indent=1))
PY
}

# The controller API with curl as WHO (WHO.crt/WHO.key, or none) on 127.0.0.1:$CPORT; the
# answer and its HTTP code (last line) go to $WORK/resp.
api() {  # WHO METHOD PATH [curl args]
  local who=$1 method=$2 path=$3; shift 3
  local cert=()
  [ "$who" != none ] && cert=(--cert "$who.crt" --key "$who.key")
  curl -sS -X "$method" --cacert state/ca/ca.pem "${cert[@]}" -w '\n%{http_code}' "$@" \
    "https://127.0.0.1:$CPORT$path"
}
call() {  # NAME CODE WHO METHOD PATH [curl args]
  local name=$1 code=$2; shift 2
  TESTS=$((TESTS + 1))
  api "$@" >"$WORK/resp" 2>"$WORK/err" || true
  if [ "$(tail -n1 "$WORK/resp")" = "$code" ]; then echo "ok   $name"; else
    echo "FAIL $name: expected HTTP $code"; sed 's/^/     | /' "$WORK/resp" "$WORK/err" | head -8
    FAILURES=$((FAILURES + 1)); fi
}
body_has() { TESTS=$((TESTS + 1)); if grep -qF -- "$2" "$WORK/resp"; then echo "ok   $1"; else
  echo "FAIL $1: no $2"; head -c 400 "$WORK/resp"; echo; FAILURES=$((FAILURES + 1)); fi; }
