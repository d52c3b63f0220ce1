# The demo's story (scripts/demo) as a test, with shorter waits: 1.0.0 everywhere, the
# countersigned emergency 1.0.1 with regional approvals and no request lost, the broken
# 1.0.2 rolled back in the pilot, the audit chain intact. scripts/demo exits 0 only then.
#   demo.sh PATCHWAVE PATCHWAVE_AGENT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pw-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$here/../../scripts/demo" --fast --patchwave "$1" --agent "$2" --work "$work/demo"
