// Builds TUF repositories with tuf-js alone (@tufjs/models, @tufjs/canonical-json and
// node:crypto), as test fixtures that `patchwave verify` must accept:
//   root v1 (one ed25519 key) -> root v2 (two new keys, one ECDSA P-256, threshold 2,
//   signed by the old key and both new ones); targets with a plain target and a
//   Patchwave release; snapshot and timestamp with lengths and hashes.
// Written to ../fixtures/tufjs/basic and ../fixtures/tufjs/consistent (consistent
// snapshots). Keys are fresh each run; private keys are not written.
//
//   node make-fixtures.mjs [OUTDIR]
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, MetadataKind, Signature } from '@tufjs/models';

const here = path.dirname(fileURLToPath(import.meta.url));
const outRoot = process.argv[2] ?? path.join(here, '..', 'fixtures', 'tufjs');
const EXPIRES = '2100-01-01T00:00:00Z';

function makeKey(type) {
  if (type === 'ed25519') {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    const json = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw.toString('hex') } };
    return { json, privateKey, digest: null, id: keyId(json) };
  }
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ format: 'pem', type: 'spki' });
  const json = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem } };
  return { json, privateKey, digest: 'sha256', id: keyId(json) };
}

function keyId(json) {
  return crypto.createHash('sha256').update(canonicalize(json)).digest('hex');
}

function sign(md, key) {
  md.sign((data) => new Signature({
    keyID: key.id,
    sig: crypto.sign(key.digest, data, key.privateKey).toString('hex'),
  }), true);
}

function toBytes(md) {
  return Buffer.from(JSON.stringify(md.toJSON(), null, 1) + '\n');
}

function hashes(bytes) {
  return { sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
}

function rootJSON(version, keys, rootRole, others, consistent) {
  const keyMap = {};
  for (const k of keys) keyMap[k.id] = k.json;
  const role = (ks, threshold) => ({ keyids: ks.map((k) => k.id), threshold });
  return {
    signed: {
      _type: 'root', spec_version: '1.0.31', version, expires: EXPIRES,
      consistent_snapshot: consistent, keys: keyMap,
      roles: {
        root: role(rootRole.keys, rootRole.threshold),
        targets: role([others.targets], 1),
        snapshot: role([others.online], 1),
        timestamp: role([others.online], 1),
      },
    },
    signatures: [],
  };
}

function build(dir, consistent) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'metadata'), { recursive: true });
  const write = (rel, bytes) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), bytes);
  };

  const root1Key = makeKey('ed25519');
  const root2a = makeKey('ed25519');
  const root2b = makeKey('ecdsa');
  const targetsKey = makeKey('ecdsa');
  const online = makeKey('ed25519');
  const others = { targets: targetsKey, online };

  const root1 = Metadata.fromJSON(MetadataKind.Root,
    rootJSON(1, [root1Key, targetsKey, online], { keys: [root1Key], threshold: 1 }, others, consistent));
  sign(root1, root1Key);
  write('metadata/1.root.json', toBytes(root1));

  const root2 = Metadata.fromJSON(MetadataKind.Root,
    rootJSON(2, [root2a, root2b, targetsKey, online], { keys: [root2a, root2b], threshold: 2 }, others, consistent));
  for (const k of [root1Key, root2a, root2b]) sign(root2, k);
  write('metadata/2.root.json', toBytes(root2));
  write('metadata/root.json', toBytes(root2));

  const artifacts = {
    'docs/readme.txt': Buffer.from('a plain TUF target, made by tuf-js\n'),
    'demo-service/1.0.1/demo-service-1.0.1.tar.gz': crypto.randomBytes(4096),
  };
  const release = {
    app: 'demo-service', version: '1.0.1', cves: ['CVE-2026-12345'], urgency: 'emergency',
    run: { argv: ['bin/demo-service', '--port', '8080'], env: { MODE: 'prod' } },
    health: { kind: 'http', port: 8080, path: '/healthz', interval_ms: 1000, timeout_ms: 1000, successes: 3 },
  };
  const targetEntries = {};
  for (const [name, bytes] of Object.entries(artifacts)) {
    const entry = { length: bytes.length, hashes: { ...hashes(bytes),
      sha512: crypto.createHash('sha512').update(bytes).digest('hex') } };
    if (name.startsWith('demo-service/')) entry.custom = { release };
    targetEntries[name] = entry;
    if (consistent) {
      const slash = name.lastIndexOf('/');
      write(`targets/${name.slice(0, slash + 1)}${entry.hashes.sha256}.${name.slice(slash + 1)}`, bytes);
    } else {
      write(`targets/${name}`, bytes);
    }
  }
  const targets = Metadata.fromJSON(MetadataKind.Targets, {
    signed: { _type: 'targets', spec_version: '1.0.31', version: 3, expires: EXPIRES, targets: targetEntries },
    signatures: [],
  });
  sign(targets, targetsKey);
  const targetsBytes = toBytes(targets);
  write(consistent ? 'metadata/3.targets.json' : 'metadata/targets.json', targetsBytes);

  const snapshot = Metadata.fromJSON(MetadataKind.Snapshot, {
    signed: { _type: 'snapshot', spec_version: '1.0.31', version: 5, expires: EXPIRES,
      meta: { 'targets.json': { version: 3, length: targetsBytes.length, hashes: hashes(targetsBytes) } } },
    signatures: [],
  });
  sign(snapshot, online);
  const snapshotBytes = toBytes(snapshot);
  write(consistent ? 'metadata/5.snapshot.json' : 'metadata/snapshot.json', snapshotBytes);

  const timestamp = Metadata.fromJSON(MetadataKind.Timestamp, {
    signed: { _type: 'timestamp', spec_version: '1.0.31', version: 7, expires: EXPIRES,
      meta: { 'snapshot.json': { version: 5, length: snapshotBytes.length, hashes: hashes(snapshotBytes) } } },
    signatures: [],
  });
  sign(timestamp, online);
  write('metadata/timestamp.json', toBytes(timestamp));
}

build(path.join(outRoot, 'basic'), false);
build(path.join(outRoot, 'consistent'), true);
console.log(`fixtures written to ${outRoot}/{basic,consistent}`);
