// Verifies a repository written by `patchwave release ...` with tuf-js's own code:
// the root chain (each N+1 verified by N's root role and by itself), then timestamp,
// snapshot and targets by the final root, the version/length/hashes each parent gives
// for its child (MetaFile.verify), and the requested target files (TargetFile.verify).
//
//   node verify-repo.mjs DIR [--target NAME ...]
// Exit 0 only when everything verifies.
import fs from 'node:fs';
import path from 'node:path';
import { Metadata, MetadataKind } from '@tufjs/models';

const [dir, ...rest] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node verify-repo.mjs DIR [--target NAME ...]');
  process.exit(2);
}
const targetNames = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--target') targetNames.push(rest[++i]);
}
const meta = (name) => path.join(dir, 'metadata', name);
const load = (kind, file) => {
  const bytes = fs.readFileSync(meta(file));
  return { md: Metadata.fromJSON(kind, JSON.parse(bytes.toString())), bytes };
};

try {
  let { md: root } = load(MetadataKind.Root, '1.root.json');
  root.verifyDelegate('root', root);
  for (let v = 2; fs.existsSync(meta(`${v}.root.json`)); v++) {
    const { md: next } = load(MetadataKind.Root, `${v}.root.json`);
    root.verifyDelegate('root', next);
    next.verifyDelegate('root', next);
    if (next.signed.version !== v) throw new Error(`${v}.root.json declares version ${next.signed.version}`);
    root = next;
  }
  const consistent = root.signed.consistentSnapshot;
  const now = new Date();
  const live = (md, file) => {
    if (md.signed.isExpired(now)) throw new Error(`${file} has expired`);
  };
  live(root, 'root');

  const { md: timestamp } = load(MetadataKind.Timestamp, 'timestamp.json');
  root.verifyDelegate('timestamp', timestamp);
  live(timestamp, 'timestamp.json');

  const snapMeta = timestamp.signed.snapshotMeta;
  const snapFile = consistent ? `${snapMeta.version}.snapshot.json` : 'snapshot.json';
  const { md: snapshot, bytes: snapBytes } = load(MetadataKind.Snapshot, snapFile);
  snapMeta.verify(snapBytes);
  root.verifyDelegate('snapshot', snapshot);
  if (snapshot.signed.version !== snapMeta.version) throw new Error('snapshot version differs from timestamp meta');
  live(snapshot, snapFile);

  const targetsMeta = snapshot.signed.meta['targets.json'];
  const targetsFile = consistent ? `${targetsMeta.version}.targets.json` : 'targets.json';
  const { md: targets, bytes: targetsBytes } = load(MetadataKind.Targets, targetsFile);
  targetsMeta.verify(targetsBytes);
  root.verifyDelegate('targets', targets);
  if (targets.signed.version !== targetsMeta.version) throw new Error('targets version differs from snapshot meta');
  live(targets, targetsFile);

  for (const name of targetNames) {
    const info = targets.signed.targets[name];
    if (!info) throw new Error(`target ${name} is not listed`);
    let file = path.join(dir, 'targets', name);
    if (consistent) {
      file = path.join(dir, 'targets', path.dirname(name), `${info.hashes.sha256}.${path.basename(name)}`);
    }
    await info.verify(fs.createReadStream(file));
  }
  console.log(`tuf-js verified ${dir}: root v${root.signed.version}, timestamp v${timestamp.signed.version}, ` +
    `snapshot v${snapshot.signed.version}, targets v${targets.signed.version}, ${targetNames.length} target file(s)`);
} catch (err) {
  console.error(`tuf-js refused ${dir}: ${err.message}`);
  process.exit(1);
}
