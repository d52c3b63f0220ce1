// Validates metadata documents against manifests/schemas with ajv (JSON Schema 2020-12).
//   node check-schemas.mjs             the annotated examples in manifests/examples
//   node check-schemas.mjs REPO_DIR    every metadata file in REPO_DIR/metadata
// Exit 0 only when every document matches its schema.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const manifests = path.join(here, '..', '..', 'manifests');
const ajv = new Ajv2020({ allErrors: true, strict: false });
for (const file of fs.readdirSync(path.join(manifests, 'schemas'))) {
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(manifests, 'schemas', file))), file);
}

function schemaFor(name) {
  if (name.endsWith('.pub.json') || name.endsWith('.pub')) return 'key.schema.json';
  for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
    if (name === `${role}.json` || name.endsWith(`.${role}.json`)) return `${role}.schema.json`;
  }
  return null;
}

const dir = process.argv[2] ? path.join(process.argv[2], 'metadata') : path.join(manifests, 'examples');
let failures = 0;
let checked = 0;
for (const name of fs.readdirSync(dir).sort()) {
  const schema = schemaFor(name);
  if (!schema) continue;
  const doc = JSON.parse(fs.readFileSync(path.join(dir, name)));
  checked++;
  if (!ajv.validate(schema, doc)) {
    failures++;
    for (const e of ajv.errors) console.error(`${path.join(dir, name)}: ${e.instancePath || '/'} ${e.message}`);
  }
}
console.log(`${checked} documents checked against manifests/schemas, ${failures} failed`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
