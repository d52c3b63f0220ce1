# The documented examples (manifests/examples) against the JSON Schemas
# (manifests/schemas) and against the code:
#  1. every example matches its schema, checked by a real JSON Schema validator (Debian's
#     python3-jsonschema, draft 2020-12); fleet.yaml is read as YAML 1.2 first
#     (python3-yaml); every example has a schema and every schema an example;
#  2. the signatures: approval and countersignature verify with the example approver and
#     officer keys over the OLPC canonical JSON (python3-cryptography), so do the metadata
#     with root's keys, and the documents refer to each other (targets, key ids);
#  3. the code reads them: the four roles are one signed repository that `patchwave verify`
#     accepts; `patchwave repo init` takes every example public key; `patchwave release
#     countersign` reads the countersignature and the release description; the controller
#     (`patchwave serve`) syncs the fleet policy (as YAML and as the JSON the schema saw)
#     and reads the approval (`patchwave approvals submit`: "no rollout", not a parse error);
#  4. broken copies of every example (a missing field, a wrong type, a bad enum or
#     pattern, an unknown field) are refused by the schema AND by the code with the rule
#     the code names, so the schemas are not vacuous and agree with the code; a few rules
#     a schema cannot express are shown to be the code's alone.
#   manifests_examples.sh PATCHWAVE
here=$(cd "$(dirname "$0")" && pwd)
manifests=$(cd "$here/../../manifests" && pwd)
source "$here/lib.sh"
source "$here/agent/pki.sh"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${PW_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# Debian's python3 with python3-jsonschema, python3-yaml, python3-cryptography
# (scripts/install-deps); another python3 on PATH only if it has them too.
PY=
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c 'import jsonschema, yaml, cryptography' 2>/dev/null; then PY=$candidate; break; fi
done
if [ -z "$PY" ]; then
  echo "FAIL python3 with jsonschema, yaml and cryptography is needed: scripts/install-deps"
  exit 1
fi

# py_checks NAME ARGS...: runs docs.py, which prints one "ok   ..." or "FAIL ..." line per
# check; each counts as a test.
py_checks() {
  local name=$1; shift
  local code=0
  "$PY" "$WORK/docs.py" "$@" >"$WORK/py.out" 2>"$WORK/py.err" || code=$?
  cat "$WORK/py.out"
  local ok fail
  ok=$(grep -c '^ok ' "$WORK/py.out" || true)
  fail=$(grep -c '^FAIL' "$WORK/py.out" || true)
  TESTS=$((TESTS + ok + fail))
  FAILURES=$((FAILURES + fail))
  if [ "$code" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "FAIL $name (exit $code)"; sed 's/^/     | /' "$WORK/py.err" | head -20
    TESTS=$((TESTS + 1)); FAILURES=$((FAILURES + 1))
  fi
}

cat >"$WORK/docs.py" <<'PY'
"""Schema, signature and variant checks of manifests/examples (see the shell script)."""
import copy
import hashlib
import json
import os
import re
import sys

import jsonschema
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

failures = 0


def report(ok, name, detail=""):
    global failures
    if ok:
        print(f"ok   {name}")
    else:
        failures += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))


# --- YAML 1.2 core schema: only true/false are booleans, 22:00 is a string; an integer with
# a leading zero (010) stays a string too, as the parser refuses it -------------------------
class Yaml12Loader(yaml.SafeLoader):
    pass


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                           "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for tag, pattern, first in [
        ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
        ("float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?[0-9]+[eE][-+]?[0-9]+$",
         "-+.0123456789")]:
    Yaml12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(pattern), list(first))


def load(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith((".yaml", ".yml")):
            return yaml.load(f, Loader=Yaml12Loader)
        return json.load(f)


# --- the schemas, with their $refs between files --------------------------------------
def validators(schema_dir):
    schemas = {}
    for name in sorted(os.listdir(schema_dir)):
        if name.endswith(".schema.json"):
            schemas[name] = load(os.path.join(schema_dir, name))
            jsonschema.Draft202012Validator.check_schema(schemas[name])
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        registry = Registry().with_resources(
            (s["$id"], Resource.from_contents(s)) for s in schemas.values())
        make = lambda s: jsonschema.Draft202012Validator(s, registry=registry)
    except ImportError:  # Debian 12: jsonschema 4.10
        store = {s["$id"]: s for s in schemas.values()}
        make = lambda s: jsonschema.Draft202012Validator(
            s, resolver=jsonschema.RefResolver.from_schema(s, store=store))
    return {name: make(s) for name, s in schemas.items()}


def schema_of(example):
    if example.endswith(".pub.json"):
        return "key.schema.json"
    if example == "fleet.yaml":
        return "fleet.schema.json"
    return example.replace(".json", ".schema.json")


def errors(validator, doc):
    return sorted(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(doc))


def check_examples(manifests):
    v = validators(os.path.join(manifests, "schemas"))
    examples = sorted(n for n in os.listdir(os.path.join(manifests, "examples"))
                      if n.endswith((".json", ".yaml")))
    used = set()
    for name in examples:
        schema = schema_of(name)
        if schema not in v:
            report(False, f"{name} has a schema", f"no schemas/{schema}")
            continue
        used.add(schema)
        problems = errors(v[schema], load(os.path.join(manifests, "examples", name)))
        report(not problems, f"examples/{name} matches schemas/{schema}", "; ".join(problems))
    for schema in sorted(set(v) - used - {"common.schema.json", "release.schema.json"}):
        report(False, f"schemas/{schema} has an example in examples/")
    # release.schema.json: the release description inside targets.json
    targets = load(os.path.join(manifests, "examples", "targets.json"))
    for path, target in targets["signed"]["targets"].items():
        release = target.get("custom", {}).get("release")
        if release is not None:
            problems = errors(v["release.schema.json"], release)
            report(not problems, f"custom.release of {path} matches schemas/release.schema.json",
                   "; ".join(problems))


# --- OLPC canonical JSON and signatures ------------------------------------------------
def canonical(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-8"))
        return "{" + ",".join(canonical(k) + ":" + canonical(value[k]) for k in keys) + "}"
    raise ValueError(f"no canonical JSON for {value!r} (floats are not allowed)")


def keyid(key):
    return hashlib.sha256(canonical(key).encode("utf-8")).hexdigest()


def verifies(key, sig_hex, message):
    try:
        public = key["keyval"]["public"]
        if key["scheme"] == "ed25519":
            ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)).verify(
                bytes.fromhex(sig_hex), message)
        elif key["scheme"] == "ecdsa-sha2-nistp256":
            serialization.load_pem_public_key(public.encode()).verify(
                bytes.fromhex(sig_hex), message, ec.ECDSA(hashes.SHA256()))
        else:
            return False
        return True
    except (InvalidSignature, ValueError):
        return False


def valid_signers(doc, keys):
    """Key ids (of `keys`, by id) whose signature over canonical(doc.signed) verifies."""
    message = canonical(doc["signed"]).encode("utf-8")
    return [s["keyid"] for s in doc["signatures"]
            if s["keyid"] in keys and verifies(keys[s["keyid"]], s["sig"], message)]


def check_signatures(manifests):
    ex = lambda name: load(os.path.join(manifests, "examples", name))
    root = ex("root.json")
    keys = root["signed"]["keys"]
    for kid, key in keys.items():
        report(kid == keyid(key), f"root.json: key id {kid[:16]} is the sha256 of its key")
    for role in ["root", "targets", "snapshot", "timestamp"]:
        doc = ex(f"{role}.json")
        spec = root["signed"]["roles"][role]
        role_keys = {k: keys[k] for k in spec["keyids"]}
        signers = valid_signers(doc, role_keys)
        report(len(set(signers)) >= spec["threshold"],
               f"{role}.json: {len(set(signers))} valid signatures of {role} keys, "
               f"threshold {spec['threshold']}")
    alice = ex("key.pub.json")
    report(keyid(alice) in root["signed"]["roles"]["targets"]["keyids"],
           "key.pub.json is a targets key of root.json")

    targets = ex("targets.json")["signed"]["targets"]
    emergency = {p: t["hashes"]["sha256"] for p, t in targets.items()
                 if t.get("custom", {}).get("release", {}).get("urgency") == "emergency"}
    approver = ex("approver.pub.json")
    approval = ex("approval.json")
    report(valid_signers(approval, {keyid(approver): approver}) == [keyid(approver)],
           "approval.json: its one signature verifies with approver.pub.json")
    tampered = copy.deepcopy(approval)
    tampered["signed"]["region"] = "by"
    report(valid_signers(tampered, {keyid(approver): approver}) == [],
           "approval.json with another region: the signature no longer verifies")
    report(emergency.get(approval["signed"]["target"]) == approval["signed"]["sha256"],
           "approval.json names the emergency release of targets.json and its sha256")

    officers = {}
    for name in sorted(os.listdir(os.path.join(manifests, "examples"))):
        if name.startswith("officer-") and name.endswith(".pub.json"):
            officers[keyid(ex(name))] = ex(name)
    counter = ex("countersignature.json")
    signers = valid_signers(counter, officers)
    report(len(officers) >= 2 and sorted(signers) == sorted(officers),
           f"countersignature.json: {len(signers)} signatures verify with the {len(officers)} "
           "officer-*.pub.json keys")
    report(emergency.get(counter["signed"]["target"]) == counter["signed"]["sha256"],
           "countersignature.json names the emergency release of targets.json and its sha256")


# --- broken variants -------------------------------------------------------------------
# Each change knows the path it changes: the schema must refuse the variant there (or
# above it), not for some other reason.
def change_at(path, apply):
    apply.path = list(path)
    return apply


def parent_of(doc, path):
    for p in path[:-1]:
        doc = doc[p]
    return doc


def setter(path, value):
    return change_at(path, lambda doc: parent_of(doc, path).__setitem__(path[-1], value))


def deleter(path):
    return change_at(path, lambda doc: parent_of(doc, path).__delitem__(path[-1]))


def renamer(path, new):
    def apply(doc):
        parent = parent_of(doc, path)
        parent[new] = parent.pop(path[-1])
    return change_at(path[:-1] + [new], apply)


def appender(path, value):
    return change_at(path, lambda doc: parent_of(doc, path)[path[-1]].append(value))


T = "demo-service/1.0.1/demo-service-1.0.1.tar.gz"
REL = ["signed", "targets", T, "custom", "release"]
R0 = ["regions", 0]

# (example, slug, change, refused by the schema?, what the code's refusal says).
# The code's check per example is in the shell script: approval -> controller, countersignature
# and targets' custom.release -> release countersign, roles -> verify, keys -> repo init,
# fleet -> controller sync.
VARIANTS = [
    ("approval.json", "no-region", deleter(["signed", "region"]), True, "field 'region': missing"),
    ("approval.json", "rollout-a-number", setter(["signed", "rollout"], 7), True,
     "field 'rollout': expected a string"),
    ("approval.json", "decision-maybe", setter(["signed", "decision"], "maybe"), True,
     "signed.decision: 'maybe' is neither 'approve' nor 'reject'"),
    ("approval.json", "comment-newline", setter(["signed", "comment"], "line one\nline two"), True,
     "signed.comment: control character"),
    ("approval.json", "comment-1025-bytes", setter(["signed", "comment"], "x" * 1025), True,
     "signed.comment: 1025 bytes, more than the limit of 1024"),
    ("approval.json", "target-dotdot", setter(["signed", "target"], "../etc/passwd"), True,
     "is not a relative target path"),
    ("approval.json", "sha256-upper", setter(["signed", "sha256"], "AB" * 32), True,
     "signed.sha256: expected 64 lowercase hex digits"),
    ("approval.json", "region-upper", setter(["signed", "region"], "BW"), True,
     "is not a region name"),
    ("approval.json", "issued-not-a-time", setter(["signed", "issued"], "yesterday"), True,
     "signed.issued"),
    ("approval.json", "unknown-field", setter(["signed", "note"], "hi"), True,
     "signed.note: unknown field"),
    ("approval.json", "two-signatures",
     appender(["signatures"], {"keyid": "ab" * 32, "sig": "cd" * 64}), True,
     "exactly one signature"),
    ("approval.json", "signature-extra-field", setter(["signatures", 0, "scheme"], "ed25519"),
     True, "exactly 'keyid' and 'sig'"),
    ("approval.json", "extra-top-level", setter(["signed_by"], "anna"), True,
     "unexpected top-level field 'signed_by'"),
    ("approval.json", "type-countersignature", setter(["signed", "_type"], "countersignature"),
     True, "expected 'approval'"),
    # rules of the code alone: the schema accepts these
    ("approval.json", "expires-in-31-days", setter(["signed", "expires"], "2099-02-01T00:00:00Z"),
     False, "signed.expires: "),

    ("countersignature.json", "no-signatures", setter(["signatures"], []), True,
     "at least one signature"),
    ("countersignature.json", "urgency-routine", setter(["signed", "urgency"], "routine"), True,
     "for urgency 'emergency' only"),
    ("countersignature.json", "no-sha256", deleter(["signed", "sha256"]), True,
     "field 'sha256': missing"),
    ("countersignature.json", "sig-not-hex", setter(["signatures", 0, "sig"], "not hex"), True,
     "sig: expected lowercase hex"),
    ("countersignature.json", "keyid-short", setter(["signatures", 0, "keyid"], "abcd"), True,
     "keyid: expected 64 lowercase hex digits"),
    ("countersignature.json", "issued-a-number", setter(["signed", "issued"], 1764410000), True,
     "field 'issued': expected a string"),
    ("countersignature.json", "unknown-field", setter(["signed", "officers"], 2), True,
     "signed.officers: unknown field"),
    ("countersignature.json", "same-key-twice",
     change_at(["signatures"], lambda d: d["signatures"].append(
         {"keyid": d["signatures"][0]["keyid"], "sig": "00"})), False, "signed twice by key"),

    ("targets.json", "release-urgency-critical", setter(REL + ["urgency"], "critical"), True,
     "urgency 'critical' is not one of routine, emergency"),
    ("targets.json", "release-no-run", deleter(REL + ["run"]), True, "field 'run': missing"),
    ("targets.json", "release-port-70000", setter(REL + ["health", "port"], 70000), True,
     "field 'port': must be 1..65535"),
    ("targets.json", "release-version-1.0", setter(REL + ["version"], "1.0"), True,
     "is not a semantic version"),
    ("targets.json", "release-bad-cve", setter(REL + ["cves"], ["CVE-1"]), True,
     "is not a CVE id"),
    ("targets.json", "release-absolute-argv0", setter(REL + ["run", "argv"], ["/bin/sh"]), True,
     "argv[0] must be a path inside the release directory"),
    ("targets.json", "release-env-number", setter(REL + ["run", "env", "MODE"], 1), True,
     "must be NAME: \"value\""),
    ("targets.json", "length-a-string", setter(["signed", "targets", T, "length"], "178"), True,
     "field 'length'"),
    ("targets.json", "version-0", setter(["signed", "version"], 0), True,
     "signed.version must be at least 1"),

    ("root.json", "no-timestamp-role", deleter(["signed", "roles", "timestamp"]), True,
     "field 'timestamp': missing"),
    ("root.json", "threshold-0", setter(["signed", "roles", "targets", "threshold"], 0), True,
     "must be at least 1"),
    ("root.json", "consistent-snapshot-a-string",
     setter(["signed", "consistent_snapshot"], "false"), True, "expected a boolean"),
    ("root.json", "expires-not-utc", setter(["signed", "expires"], "2036-11-26T10:21:22+01:00"),
     True, "is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ"),
    ("root.json", "spec-version-2", setter(["signed", "spec_version"], "2.0.0"), True,
     "spec_version '2.0.0'"),
    ("timestamp.json", "version-0", setter(["signed", "version"], 0), True,
     "signed.version must be at least 1"),
    ("timestamp.json", "meta-targets-too", setter(["signed", "meta", "targets.json"], {"version": 2}),
     True, "signed.meta must describe exactly snapshot.json"),
    ("timestamp.json", "type-snapshot", setter(["signed", "_type"], "snapshot"), True,
     "signed._type is 'snapshot', expected 'timestamp'"),
    # the client checks snapshot.json against the length and hash in timestamp.json first
    ("snapshot.json", "no-meta", deleter(["signed", "meta"]), True, "snapshot.json"),
    ("snapshot.json", "length-negative",
     setter(["signed", "meta", "targets.json", "length"], -1), True, "snapshot.json"),

    ("key.pub.json", "no-keyval", deleter(["keyval"]), True, "field 'keyval': missing"),
    ("key.pub.json", "ed25519-not-hex", setter(["keyval", "public"], "zz" * 32), True,
     "expected lowercase hex digits in an Ed25519 key"),
    ("key.pub.json", "ed25519-scheme-ecdsa", setter(["scheme"], "ecdsa-sha2-nistp256"), True,
     "is not one Patchwave can verify"),

    ("fleet.yaml", "no-regions", deleter(["regions"]), True, "regions: is required"),
    ("fleet.yaml", "version-2", setter(["version"], 2), True, "version: must be 1"),
    ("fleet.yaml", "unknown-top-level", setter(["colour"], "blue"), True, "colour: unknown field"),
    ("fleet.yaml", "region-field-typo", setter(R0 + ["servrs"], 3), True,
     "regions[0].servrs: unknown field (did you mean 'servers'?)"),
    ("fleet.yaml", "provider-param-list", setter(["regions", 1, "provider", "flavor"], ["m1"]),
     True, "a provider parameter must be a string"),
    ("fleet.yaml", "servers-quoted", setter(R0 + ["servers"], "3"), True,
     "regions[0].servers: must be an integer"),
    ("fleet.yaml", "failure-policy-stop", setter(["defaults", "failure_policy"], "stop"), True,
     "defaults.failure_policy: 'stop' is not one of halt, continue"),
    ("fleet.yaml", "aprovers-typo", renamer(R0 + ["approvers"], "aprovers"), True,
     "regions[0].aprovers: unknown field (did you mean 'approvers'?)"),
    ("fleet.yaml", "last-step-50", setter(["defaults", "canary_steps"], [10, 50]), True,
     "the last step must be 100"),
    ("fleet.yaml", "step-wait-90", setter(["defaults", "step_wait"], "90"), True,
     "defaults.step_wait: '90' is not a duration"),
    ("fleet.yaml", "window-start-24h", setter(R0 + ["windows", 0, "start"], "24:00"), True,
     "'24:00' is not a time of day"),
    ("fleet.yaml", "window-day-monday", setter(R0 + ["windows", 0, "days"], ["monday"]), True,
     "'monday' is not one of mon, tue"),
    ("fleet.yaml", "local-with-command", setter(R0 + ["provider", "command"], ["/bin/true"]),
     True, "only a script provider takes a command"),
    ("fleet.yaml", "script-without-command", deleter(["regions", 1, "provider", "command"]), True,
     "is required for a script provider"),
    ("fleet.yaml", "officers-threshold-0", setter(["security_officers", "threshold"], 0), True,
     "security_officers.threshold: must be between 1 and the number of keys"),
    ("fleet.yaml", "key-with-keyid", setter(R0 + ["approvers", "keys", 0, "keyid"], "ab" * 32),
     True, "keyid: unknown field"),
    ("fleet.yaml", "key-rsa", setter(R0 + ["approvers", "keys", 0, "keytype"], "rsa"), True,
     "regions[0].approvers.keys[0]"),
    ("fleet.yaml", "skip-windows-yes", setter(["defaults", "emergency", "skip_windows"], "yes"),
     True, "must be true or false"),
    ("fleet.yaml", "no-backend", deleter(R0 + ["backend"]), True, "regions[0].backend: is required"),
    ("fleet.yaml", "region-name-upper", setter(R0 + ["name"], "BW"), True,
     "must match [a-z0-9-]{1,32}"),
    # rules of the code alone: the schema accepts these
    ("fleet.yaml", "steps-decrease", setter(["defaults", "canary_steps"], [50, 10, 100]), False,
     "steps strictly increase"),
    ("fleet.yaml", "same-region-twice", setter(["regions", 1, "name"], "bw"), False,
     "'bw' is already the name of regions[0]"),
    ("fleet.yaml", "timezone-typo", setter(R0 + ["windows", 0, "timezone"], "Europe/Berln"), False,
     "'Europe/Berln' is not a time zone in the tz database"),
    ("fleet.yaml", "threshold-above-keys", setter(R0 + ["approvers", "threshold"], 3), False,
     "must be between 0 and the number of keys (2)"),
    ("fleet.yaml", "emergency-longer", setter(["regions", 1, "emergency", "bake_time"], "1h"),
     False, "an emergency shortens waits, never lengthens them"),
]


def on_path(changed, error):
    n = min(len(changed), len(error))
    return changed[:n] == error[:n]


def write_variants(manifests, out_dir):
    """Checks each variant against its schema, writes it to OUT_DIR (a .yaml variant as
    JSON, which is YAML too) and lists it in OUT_DIR/variants.tsv for the code's checks."""
    v = validators(os.path.join(manifests, "schemas"))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "variants.tsv"), "w", encoding="utf-8") as listing:
        for example, slug, change, schema_refuses, code_says in VARIANTS:
            doc = load(os.path.join(manifests, "examples", example))
            change(doc)
            problems = errors(v[schema_of(example)], doc)
            if schema_refuses:
                # an error on the changed path: at it, below it, or above it (a missing
                # field: its parent), the deepest first
                here = sorted((list(e.absolute_path), e.validator or "false")
                              for e in v[schema_of(example)].iter_errors(doc)
                              if on_path(change.path, list(e.absolute_path)))
                where = max(here, key=lambda h: len(h[0])) if here else None
                report(bool(here), f"schema refuses {example} {slug}" +
                       (f": {where[1]} at /{'/'.join(map(str, where[0]))}" if where else ""),
                       "; ".join(problems) or "the schema accepts it")
            else:
                report(not problems, f"schema accepts {example} {slug} (a rule of the code alone)",
                       "; ".join(problems))
            stem = example.rsplit(".", 1)[0]
            path = os.path.join(out_dir, f"{stem}.{slug}.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1, ensure_ascii=False)
                f.write("\n")
            listing.write(f"{example}\t{slug}\t{path}\t{code_says}\n")


def yaml_to_json(path, out):
    with open(out, "w", encoding="utf-8") as f:
        json.dump(load(path), f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"examples": check_examples, "signatures": check_signatures, "variants": write_variants,
     "yaml-to-json": yaml_to_json}[command](*args)
    sys.exit(1 if failures else 0)
PY

# --- 1. the examples against their schemas ----------------------------------------------
py_checks "examples against schemas" examples "$manifests"

# --- 2. signatures and references between the documents ----------------------------------
py_checks "signatures" signatures "$manifests"

# --- 3. the code reads the examples --------------------------------------------------------
ex=$manifests/examples
T=demo-service/1.0.1/demo-service-1.0.1.tar.gz
mkdir -p meta/metadata
cp "$ex"/{root,targets,snapshot,timestamp}.json meta/metadata/
check "patchwave verify: the four roles are one signed repository" \
  pw verify --repo meta --root "$ex/root.json" --output json
cp "$WORK/out" verify.json
check "... root, timestamp, snapshot and targets, one target" "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["root"]["version"] == 1 and r["targets"]["count"] == 1, r
' verify.json

for key in "$ex"/*.pub.json; do
  rm -rf keyrepo
  check "patchwave repo init takes $(basename "$key")" pw repo init keyrepo --root-key "$key" \
    --targets-key "$key" --snapshot-key "$key" --timestamp-key "$key"
done

# release countersign reads targets.json (and every custom.release in it) and the existing
# countersignature, then adds a signature of a key of its own.
make_countersign_repo() {  # DIR [TARGETS.json] [COUNTERSIGNATURE.json]
  rm -rf "$1"; mkdir -p "$1/metadata" "$1/countersignatures/$(dirname "$T")"
  cp "$ex"/{root,snapshot,timestamp}.json "$1/metadata/"
  cp "${2:-$ex/targets.json}" "$1/metadata/targets.json"
  cp "${3:-$ex/countersignature.json}" "$1/countersignatures/$T.json"
  git -C "$1" init -q -b main && commit_all "$1" "examples"
}
pw key generate --out keys/officer-test >/dev/null 2>&1
make_countersign_repo cs
check "patchwave release countersign reads countersignature.json and the release" \
  pw release countersign cs --key keys/officer-test --target "$T"
expect_out "... for the release of targets.json" "countersigned emergency release $T"
expect_out "... adding a third signature to the two of the example" "now has 3 signatures"

# The controller: a throwaway repository with the fleet policy example as its target.
make_repo repo
pw release add repo "$ex/fleet.yaml" --name fleet/policy.yaml >/dev/null
pw release sign repo --key keys/alice >/dev/null
pw release sign repo --key keys/bob >/dev/null
pw release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null
CPORT=$(free_port)
cat >controller.yaml <<YAML
state_dir: $WORK/state
listen: 127.0.0.1:$CPORT
manifests:
  repository: $WORK/repo@HEAD
  root: $WORK/repo/metadata/1.root.json
  sync_interval: 1h
audit:
  checkpoint_interval: 1h
YAML
"$PW_BIN" serve --config controller.yaml --log-format json 2>controller.log &
PIDS+=($!)
wait_synced() {
  for _ in $(seq 200); do
    grep -q '"event":"synced"' controller.log && return 0
    kill -0 "${PIDS[0]}" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
check "the controller syncs the repository with examples/fleet.yaml" wait_synced
pw ca issue-operator --dir state/ca --name rita --role release-engineer --out rita >/dev/null
export PATCHWAVE_CONTROLLER="https://127.0.0.1:$CPORT" PATCHWAVE_CA="$WORK/state/ca/ca.pem"
export PATCHWAVE_CERT="$WORK/rita.crt" PATCHWAVE_KEY="$WORK/rita.key"
check "patchwave fleet show: the parsed example" pw fleet show --output json
cp "$WORK/out" fleet-yaml.json
check "... three regions in two waves, two of three officers" "$PY" -c '
import json, sys
p = json.load(open(sys.argv[1]))["policy"]
assert [(r["name"], r["wave"]) for r in p["regions"]] == [("bw", 1), ("by", 2), ("nw", 2)], p
assert p["security_officers"]["threshold"] == 2 and len(p["security_officers"]["keys"]) == 3, p
' fleet-yaml.json

# The JSON the schema validated is the same policy to the parser (JSON is YAML).
POLICY=1
publish_policy() {  # FILE: the next fleet/policy-N.yaml, signed and published
  POLICY=$((POLICY + 1))
  pw release add repo "$1" --name "fleet/policy-$POLICY.yaml" >/dev/null
  pw release sign repo --key keys/alice >/dev/null
  pw release sign repo --key keys/bob >/dev/null
  pw release publish repo --snapshot-key keys/online --timestamp-key keys/online >/dev/null
}
"$PY" "$WORK/docs.py" yaml-to-json "$ex/fleet.yaml" fleet-as-json.yaml
publish_policy fleet-as-json.yaml
check "the controller syncs examples/fleet.yaml converted to JSON" pw sync
check "... and reads the same policy" bash -c "
  '$PW_BIN' fleet show --output json >fleet-json.json &&
  '$PY' -c 'import json, sys; a, b = (json.load(open(f))[\"policy\"] for f in sys.argv[1:]); a.pop(\"source\"); b.pop(\"source\"); assert a == b' \
    fleet-yaml.json fleet-json.json"

refuse "patchwave approvals submit: approval.json parses (no such rollout here)" \
  "there is no rollout r1a2b3c4d" pw approvals submit "$ex/approval.json"

# --- 4. broken variants: refused by the schema and by the code ---------------------------
py_checks "variants against schemas" variants "$manifests" "$WORK/variants"
while IFS=$'\t' read -r example slug file says; do
  name="code refuses $example $slug"
  case $example in
    approval.json)
      refuse "$name" "$says" pw approvals submit "$file" ;;
    countersignature.json)
      make_countersign_repo csv "$ex/targets.json" "$file"
      refuse "$name" "$says" pw release countersign csv --key keys/officer-test --target "$T" ;;
    targets.json)  # verify would refuse it for its hash before parsing it
      make_countersign_repo csv "$file"
      refuse "$name" "$says" pw release countersign csv --key keys/officer-test --target "$T" ;;
    root.json)
      refuse "$name" "$says" pw verify --repo meta --root "$file" ;;
    timestamp.json | snapshot.json)
      rm -rf broken; cp -r meta broken; cp "$file" "broken/metadata/$example"
      refuse "$name" "$says" pw verify --repo broken --root "$ex/root.json" ;;
    key.pub.json)
      rm -rf keyrepo
      refuse "$name" "$says" pw repo init keyrepo --root-key "$file" --targets-key "$file" \
        --snapshot-key "$file" --timestamp-key "$file" ;;
    fleet.yaml)
      publish_policy "$file"
      refuse "$name" "$says" pw sync ;;
    *)
      check "$name: no code check for $example" false ;;
  esac
done <"$WORK/variants/variants.tsv"
check "the last good fleet policy stays in force" bash -c "
  '$PW_BIN' fleet show --output json >fleet-last.json &&
  '$PY' -c 'import json, sys; a, b = (json.load(open(f))[\"policy\"] for f in sys.argv[1:]); a.pop(\"source\"); b.pop(\"source\"); assert a == b' \
    fleet-yaml.json fleet-last.json"

finish
