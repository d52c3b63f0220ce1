#!/usr/bin/env bash
# Every kind of bad input the verifier and the authoring commands must refuse, each with
# exit 1 and an error that names the file and the rule.
source "$(dirname "$0")/lib.sh"

make_repo repo
add_release repo 1.0.1
T=$(target_of 1.0.1)
ROOT=repo/metadata/1.root.json
check "the untouched repository verifies" pw verify --repo repo --root $ROOT --target "$T"

# fresh_copy NAME: a clone of the good repository to tamper with.
fresh_copy() { rm -rf "$1"; git clone -q repo "$1"; }

# --- keys ---------------------------------------------------------------------------
chmod 644 keys/alice
refuse "private key readable by others" "readable or writable by group or others (mode 0644)" \
  pw release sign repo --key keys/alice
chmod 600 keys/alice
pw key generate --out keys/stranger >/dev/null 2>&1
printf 'x\n' >dist/x.tar.gz
pw release add repo dist/x.tar.gz --name x.tar.gz >/dev/null
refuse "a key of no role may not sign" "may not sign anything staged here" \
  pw release sign repo --key keys/stranger
git -C repo reset -q --hard HEAD~1 && git -C repo clean -qfdx
refuse "publish with a stranger's snapshot key" "snapshot.json: key" \
  pw release publish repo --snapshot-key keys/stranger --timestamp-key keys/online
cp "$WORK/err" "$WORK/err.saved"
check "the error names the role" grep -qF "is not a snapshot key of root version 1" "$WORK/err.saved"

# --- signatures ---------------------------------------------------------------------
fresh_copy t1
python3 - t1/metadata/timestamp.json <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["signatures"][0]["keyid"] = "ab" * 32
open(sys.argv[1], "w").write(json.dumps(doc))
PY
commit_all t1 "signature by an unknown key"
refuse "signature by an unknown key" \
  "timestamp.json: signature threshold not met for role timestamp: 0 of 1 required (ignored: 1 by a key not listed for timestamp)" \
  pw verify --repo t1 --root $ROOT

fresh_copy t2
edit_json t2/metadata/timestamp.json 'doc["signatures"][0]["sig"] = "00" * 64'
commit_all t2 "bad signature bytes"
refuse "invalid signature" "(ignored: 1 that did not verify)" pw verify --repo t2 --root $ROOT

# One key counted twice: a timestamp role with threshold 2 (keys online + spare), signed
# by online twice (same key id, and a second entry) must count 1.
pw key generate --out keys/spare >/dev/null 2>&1
rm -rf r2; pw repo init r2 --root-key keys/root.pub --targets-key keys/alice.pub \
  --snapshot-key keys/online.pub --timestamp-key keys/online.pub --timestamp-key keys/spare.pub \
  --timestamp-threshold 2 >/dev/null
pw release sign r2 --key keys/root >/dev/null; pw release sign r2 --key keys/alice >/dev/null
refuse "publish with 1 of 2 timestamp keys" "signature threshold not met for role timestamp: 1 of 2" \
  pw release publish r2 --snapshot-key keys/online --timestamp-key keys/online
check "publish with 2 of 2 timestamp keys" \
  pw release publish r2 --snapshot-key keys/online --timestamp-key keys/online --timestamp-key keys/spare
check "threshold-2 timestamp verifies" pw verify --repo r2 --root r2/metadata/1.root.json
edit_json r2/metadata/timestamp.json 'doc["signatures"] = [doc["signatures"][0], dict(doc["signatures"][0])]'
commit_all r2 "one signature twice"
refuse "one key counted twice" "1 of 2 required (ignored: 1 repeating a key already counted)" \
  pw verify --repo r2 --root r2/metadata/1.root.json

# --- metadata changed after it was signed ---------------------------------------------
fresh_copy t3
edit_json t3/metadata/targets.json 'doc["signed"]["targets"]["evil.tar.gz"] = {"length": 1, "hashes": {"sha256": "00"*32}}'
commit_all t3 "sneak a target in"
refuse "targets.json changed in git after signing" \
  "targets.json: longer than the length of" pw verify --repo t3 --root $ROOT
check "the commit before the change still verifies" pw verify --repo t3@HEAD~1 --root $ROOT

fresh_copy t4
edit_json t4/metadata/timestamp.json 'doc["signed"]["expires"] = "2099-01-01T00:00:00Z"'
commit_all t4 "extend the timestamp by hand"
refuse "timestamp.json changed after signing" \
  "timestamp.json: signature threshold not met for role timestamp: 0 of 1 required (ignored: 1 that did not verify)" \
  pw verify --repo t4 --root $ROOT

fresh_copy t5
git -C t5 show HEAD~4:metadata/targets.json >t5/metadata/targets.json
commit_all t5 "older, validly signed targets.json"
refuse "snapshot meta that does not match targets" "targets.json (as described by snapshot.json)" \
  pw verify --repo t5 --root $ROOT

# --- targets --------------------------------------------------------------------------
fresh_copy t6
printf 'X' >>"t6/targets/$T"
commit_all t6 "longer artifact"
refuse "target longer than signed" "target '$T': longer than the signed length" \
  pw verify --repo t6 --root $ROOT --target "$T"
fresh_copy t7
python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[0]^=1; open(p,'wb').write(b)" "t7/targets/$T"
commit_all t7 "flipped bit"
refuse "target hash mismatch" "target '$T': sha256 does not match the signed hash" \
  pw verify --repo t7 --root $ROOT --target "$T"
fresh_copy t8
truncate -s 3 "t8/targets/$T"
commit_all t8 "short artifact"
refuse "target shorter than signed" "length is 3 bytes, signed length is" \
  pw verify --repo t8 --root $ROOT --target "$T"

# --- expiry and rollback --------------------------------------------------------------
rm -rf r3; cp -r repo r3
printf 'y\n' >dist/y.tar.gz
pw release add r3 dist/y.tar.gz --name y.tar.gz >/dev/null
pw release sign r3 --key keys/alice >/dev/null; pw release sign r3 --key keys/bob >/dev/null
pw release publish r3 --snapshot-key keys/online --timestamp-key keys/online --timestamp-expires 1s >/dev/null
sleep 2
refuse "expired timestamp" "timestamp.json: timestamp metadata version 3 expired at" \
  pw verify --repo r3 --root $ROOT

check "verify with state at HEAD" pw verify --repo repo --root $ROOT --state state
refuse "rollback to an older commit" "timestamp.json: version 1 is older than the trusted version 2" \
  pw verify --repo repo@HEAD~4 --root $ROOT --state state
check "without state the old commit verifies on its own" pw verify --repo repo@HEAD~4 --root $ROOT

# --- malformed documents --------------------------------------------------------------
bad_timestamp() {  # NAME PATTERN CONTENT
  fresh_copy tb
  printf '%s' "$3" >tb/metadata/timestamp.json
  commit_all tb "$1"
  refuse "$1" "$2" pw verify --repo tb --root $ROOT
}
bad_timestamp "malformed JSON" "timestamp.json: malformed JSON at byte" '{"signed": '
bad_timestamp "duplicate keys" 'timestamp.json: duplicate key "signed"' '{"signed": {}, "signed": {}}'
bad_timestamp "floats" "timestamp.json: floating-point number 1.5 is not allowed" \
  '{"signatures": [], "signed": {"version": 1.5}}'
bad_timestamp "deep nesting" "timestamp.json: nesting deeper than 32 levels" \
  "$(python3 -c 'print("[" * 100 + "]" * 100)')"
fresh_copy tb
python3 -c "print('{\"signed\": \"' + 'a' * 600000 + '\"}')" >tb/metadata/2.root.json
commit_all tb "oversized root"
refuse "oversized root" "fetching metadata/2.root.json" pw verify --repo tb --root $ROOT
refuse "oversized root names the limit" "more than the limit of 524288 bytes" pw verify --repo tb --root $ROOT
refuse "wrong _type" "signed._type is 'timestamp', expected 'root'" \
  pw verify --repo repo --root repo/metadata/timestamp.json
refuse "missing trusted root" "cannot open the trusted root" pw verify --repo repo --root nope.json

finish
