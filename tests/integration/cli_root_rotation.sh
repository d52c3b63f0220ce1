#!/usr/bin/env bash
# Root rotation through the real binary: N+1 must carry a threshold of the old root keys
# and of the new ones; clients pinned to root 1 follow the chain; the verifier refuses
# a new root that only the new keys signed.
source "$(dirname "$0")/lib.sh"

make_repo repo
add_release repo 1.0.1
ROOT=repo/metadata/1.root.json
pw key generate --out keys/root2a >/dev/null 2>&1
pw key generate --out keys/root2b >/dev/null 2>&1
pw key generate --out keys/online2 --type ecdsa >/dev/null 2>&1

check "verify with state before rotation" pw verify --repo repo --root $ROOT --state state
check "rotate root to a 2-of-2 root key set and a new online key" \
  pw root rotate repo --root-key keys/root2a.pub --root-key keys/root2b.pub --root-threshold 2 \
  --timestamp-key keys/online2.pub --snapshot-key keys/online2.pub
refuse "a second rotation while one is staged" "is already staged" \
  pw root rotate repo --root-key keys/root.pub

# The staged root signed by the new keys alone, smuggled into metadata/ by hand.
pw release sign repo --key keys/root2a >/dev/null
check "sign with the second new root key" pw release sign repo --key keys/root2b
expect_out "signing reports the old root's count" "previous root version 1: 0 of 1"
refuse "publish without the old root's signature" \
  "signature threshold not met for role root of the current root version 1: 0 of 1 required" \
  pw release publish repo --snapshot-key keys/online2 --timestamp-key keys/online2
rm -rf evil; git clone -q repo evil
cp evil/staged/root.json evil/metadata/2.root.json
commit_all evil "a root the old keys never signed"
refuse "verifier refuses a new root not signed by the old threshold" \
  "2.root.json: signature threshold not met for role root of the trusted root version 1: 0 of 1 required" \
  pw verify --repo evil --root $ROOT

check "the old root key signs" pw release sign repo --key keys/root
expect_out "now the old root's count is met" "previous root version 1: 1 of 1"
refuse "snapshot signed with the retired online key" "is not a snapshot key of root version 2" \
  pw release publish repo --snapshot-key keys/online --timestamp-key keys/online
check "publish the rotation" pw release publish repo --snapshot-key keys/online2 --timestamp-key keys/online2
check "a client pinned to root 1 follows the chain" pw verify --repo repo --root $ROOT --output json \
  --target "$(target_of 1.0.1)"
expect_out "rotated through version 2" '"rotated_through": ['
cp "$WORK/out" "$WORK/report.json"
check "root version 2 reported" python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['root']['version']==2 and r['root']['rotated_through']==[2], r" "$WORK/report.json"
check "the client with state rotates too" pw verify --repo repo --root $ROOT --state state
check "state keeps root version 2" python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['signed']['version']==2" state/root.json

# Rotating the targets keys restages targets for the new keys to sign.
pw key generate --out keys/dave >/dev/null 2>&1
check "rotate the targets keys" pw root rotate repo --targets-key keys/dave.pub
expect_out "targets are restaged" "root version 3 staged"
check "staged/targets.json exists" test -f repo/staged/targets.json
pw release sign repo --key keys/root2a >/dev/null
pw release sign repo --key keys/root2b >/dev/null
refuse "targets still signed by nobody" "signature threshold not met for role targets: 0 of 1" \
  pw release publish repo --snapshot-key keys/online2 --timestamp-key keys/online2
check "dave signs the targets" pw release sign repo --key keys/dave
check "publish root 3" pw release publish repo --snapshot-key keys/online2 --timestamp-key keys/online2
check "root 1 -> 2 -> 3" pw verify --repo repo --root $ROOT --state state --target "$(target_of 1.0.1)"
expect_out "version 3" "root:       version 3"
refuse "the retired targets keys no longer count" "signature threshold not met" \
  pw verify --repo repo@HEAD~1 --root repo/metadata/3.root.json

finish
