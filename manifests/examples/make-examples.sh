#!/usr/bin/env bash
# Remakes the signed examples in this folder with the real CLI, the way a release team
# would: fresh keys, a repository with a 2-of-3 targets threshold and one emergency
# release, its countersignature by two security officers and one regional approval.
# The private keys are thrown away; the public keys needed to check the signatures are
# kept (key.pub.json is a targets key, approver.pub.json the approver,
# officer-*.pub.json the officers). fleet.yaml is written by hand and left alone.
#   make-examples.sh PATCHWAVE_BINARY
# Lifetimes are stretched to 10 years (the CLI's defaults are root 365d, targets 90d,
# snapshot 7d, timestamp 1d; an approval lives at most 30 days) so that
# tests/integration/manifests_examples.sh can verify the metadata with the real client
# for years. Run tests/integration/manifests_examples.sh afterwards.
set -euo pipefail
pw=$(realpath "$1")
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pw-examples-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
export GIT_AUTHOR_NAME=examples GIT_AUTHOR_EMAIL=examples@example.invalid
export GIT_COMMITTER_NAME=examples GIT_COMMITTER_EMAIL=examples@example.invalid
long=3650d

for k in root alice bob carol online approver officer-dana officer-erin; do
  "$pw" key generate --out "keys/$k" >/dev/null 2>&1
done
"$pw" repo init repo --root-key keys/root.pub \
  --targets-key keys/alice.pub --targets-key keys/bob.pub --targets-key keys/carol.pub \
  --targets-threshold 2 --snapshot-key keys/online.pub --timestamp-key keys/online.pub \
  --root-expires "$long" --targets-expires "$long" >/dev/null
for k in root alice bob; do "$pw" release sign repo --key "keys/$k" >/dev/null; done
publish() {
  "$pw" release publish repo --snapshot-key keys/online --timestamp-key keys/online \
    --snapshot-expires "$long" --timestamp-expires "$long" >/dev/null
}
publish

mkdir -p src/bin
printf '#!/bin/sh\nexec demo-service "$@"\n' >src/bin/demo-service
chmod 755 src/bin/demo-service
tar -czf demo-service-1.0.1.tar.gz -C src .
"$pw" release add repo demo-service-1.0.1.tar.gz --app demo-service --version 1.0.1 \
  --cve CVE-2026-12345 --urgency emergency --run 'bin/demo-service --port 8080' \
  --env MODE=prod --health http:8080/healthz --archive-limit max_total_bytes=1073741824 \
  --expires "$long" >/dev/null
"$pw" release sign repo --key keys/alice >/dev/null
"$pw" release sign repo --key keys/bob >/dev/null
publish

target=demo-service/1.0.1/demo-service-1.0.1.tar.gz
"$pw" release countersign repo --key keys/officer-dana --target "$target" >/dev/null
"$pw" release countersign repo --key keys/officer-erin --target "$target" >/dev/null

# The approver's machine is offline: the request is the JSON of `approvals pending`.
sha256=$(sha256sum demo-service-1.0.1.tar.gz | cut -d' ' -f1)
cat >request.json <<JSON
{"pending": [{"rollout": "r1a2b3c4d", "region": "bw", "app": "demo-service",
  "version": "1.0.1", "urgency": "emergency", "cves": ["CVE-2026-12345"],
  "target": "$target", "sha256": "$sha256"}]}
JSON
"$pw" approve r1a2b3c4d --region bw --key keys/approver --comment "tested in staging" \
  --expires 24h --request request.json --out approval.json >/dev/null 2>&1

for role in root targets snapshot timestamp; do cp "repo/metadata/$role.json" "$out/"; done
cp "repo/countersignatures/$target.json" "$out/countersignature.json"
cp approval.json "$out/approval.json"
cp keys/alice.pub "$out/key.pub.json"
for k in approver officer-dana officer-erin; do cp "keys/$k.pub" "$out/$k.pub.json"; done
echo "examples remade in $out"
