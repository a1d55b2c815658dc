import fc from 'fast-check';
import { stringify } from 'yaml';

// fast-check generators of manifests: valid objects of every kind, the same objects with
// fields replaced by anything at all, deleted or nested wrongly, and text built from them
// (YAML, JSON, spliced with garbage). Shared by the parser's fuzz tests and the API's.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
const duration = fc
  .tuple(fc.integer({ min: 1, max: 600 }), fc.constantFrom('ms', 's', 'm', 'h'))
  .map(([n, unit]) => `${n}${unit}`);
const hostname = fc
  .tuple(dnsLabel, fc.constantFrom('localhost', 'example.com'))
  .map(([label, domain]) => `${label}.${domain}`);

export const validProject: fc.Arbitrary<Json> = fc.record({
  apiVersion: fc.constant('luma.dev/v1alpha1'),
  kind: fc.constant('Project'),
  metadata: fc.record(
    { name: dnsLabel, labels: fc.dictionary(dnsLabel, dnsLabel, { maxKeys: 2 }) },
    { requiredKeys: ['name'] },
  ),
  spec: fc.record(
    {
      image: fc.constantFrom('busybox', 'site', 'luma/app:1'),
      hostnames: fc.array(hostname, { minLength: 1, maxLength: 3 }),
      port: fc.integer({ min: 1, max: 65535 }),
      env: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
      scaling: fc.record(
        {
          minInstances: fc.integer({ min: 0, max: 2 }),
          maxInstances: fc.integer({ min: 2, max: 4 }),
          idleTimeout: duration,
          targetConcurrency: fc.integer({ min: 1, max: 50 }),
        },
        { requiredKeys: [] },
      ),
      pool: fc.record({ size: fc.integer({ min: 0, max: 3 }) }),
      resources: fc.record(
        { cpu: fc.constantFrom('250m', '1', '500m'), memory: fc.constantFrom('64Mi', '256Mi', '1Gi') },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['image', 'hostnames'] },
  ),
}) as fc.Arbitrary<Json>;

export const validImage: fc.Arbitrary<Json> = fc.record({
  apiVersion: fc.constant('luma.dev/v1alpha1'),
  kind: fc.constant('Image'),
  metadata: fc.record({ name: dnsLabel }),
  spec: fc.oneof(
    fc.record({ ref: fc.constantFrom('busybox:latest', 'luma/x:1') }),
    fc.record({ build: fc.record({ context: fc.constantFrom('.', './app', 'upload:sha256:00') }) }),
  ),
}) as fc.Arbitrary<Json>;

export const validLease: fc.Arbitrary<Json> = fc.record({
  apiVersion: fc.constant('luma.dev/v1alpha1'),
  kind: fc.constant('Lease'),
  metadata: fc.record({ name: dnsLabel }),
  spec: fc.record(
    {
      project: dnsLabel,
      ttl: duration,
      resources: fc.record(
        { cpu: fc.constantFrom('250m', '1', '3'), memory: fc.constantFrom('256Mi', '8Gi', '1Ki') },
        { requiredKeys: [] },
      ),
      idleTimeout: duration,
    },
    { requiredKeys: ['project', 'ttl'] },
  ),
}) as fc.Arbitrary<Json>;

export const validObject: fc.Arbitrary<Json> = fc.oneof(validProject, validImage, validLease);

/** Any JSON value, including the awkward ones (huge numbers, -0, deep nesting, odd keys). */
export const anyJson: fc.Arbitrary<Json> = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>;

type Mutation =
  { kind: 'set'; path: number[]; value: Json } | { kind: 'delete'; path: number[] } | { kind: 'wrap'; path: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    value: fc.oneof(anyJson, fc.constantFrom<Json>(null, '', -1, 1e308, '0', [], {}, 'x'.repeat(300))),
  }),
  fc.record({ kind: fc.constant('delete' as const), path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('wrap' as const), path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }),
);

function isContainer(value: Json): value is Json[] | { [key: string]: Json } {
  return typeof value === 'object' && value !== null;
}

/** Applies a mutation along a path of child indexes (each taken modulo the children there). */
function applyMutation(root: Json, change: Mutation): Json {
  const copy = structuredClone(root);
  let parent: Json = copy;
  let key: string | number | undefined;
  for (const step of change.path) {
    const holder: Json = key === undefined ? parent : ((parent as Record<string | number, Json>)[key] as Json);
    if (!isContainer(holder)) break;
    const keys: Array<string | number> = Array.isArray(holder) ? holder.map((_, index) => index) : Object.keys(holder);
    if (keys.length === 0) break;
    parent = holder;
    key = keys[step % keys.length];
  }
  if (key === undefined) return change.kind === 'set' ? change.value : copy;
  const holder = parent as Record<string | number, Json>;
  if (change.kind === 'set') holder[key] = change.value;
  else if (change.kind === 'delete') {
    if (Array.isArray(holder)) holder.splice(Number(key), 1);
    else delete holder[key];
  } else holder[key] = [holder[key] as Json];
  return copy;
}

/** A valid object with one to three fields changed into anything. */
export const mutatedObject: fc.Arbitrary<Json> = fc
  .tuple(validObject, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([object, changes]) => changes.reduce(applyMutation, object));

/** Objects of every shape: valid ones (accepted), mutated ones and arbitrary JSON (mostly refused). */
export const objectShape: fc.Arbitrary<Json> = fc.oneof(
  { arbitrary: validObject, weight: 1 },
  { arbitrary: mutatedObject, weight: 4 },
  { arbitrary: anyJson, weight: 1 },
);

const garbage = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '\t',
    ': :',
    '- -',
    '{',
    '[',
    '"',
    "'",
    '&a',
    '*a',
    '!!binary',
    '<<: *x',
    '%YAML 1.2',
    '---',
    '...',
    '\u0000',
    '\uFEFF',
    '\r\n',
    '? ',
    '|',
    '>-',
    '#',
  ),
);

/** Manifest text: YAML or JSON of any shape, several documents, and garbage spliced in. */
export const manifestText: fc.Arbitrary<string> = fc.oneof(
  fc
    .array(objectShape, { minLength: 1, maxLength: 3 })
    .map((objects) => objects.map((object) => stringify(object)).join('---\n')),
  objectShape.map((object) => JSON.stringify(object)),
  fc.tuple(objectShape, fc.nat(), garbage).map(([object, at, junk]) => {
    const text = stringify(object);
    const cut = at % (text.length + 1);
    return text.slice(0, cut) + junk + text.slice(cut);
  }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

/** Pieces of the plain YAML subset (src/model/plain-yaml.ts) and of what lies just outside it. */
const nearSubset = fc.constantFrom(
  ' ',
  '  ',
  '\n',
  '\n\n',
  ': ',
  ':',
  '- ',
  '-',
  '#',
  ' #',
  ' # c',
  '[',
  ']',
  '{',
  '}',
  ',',
  '"',
  "'",
  '~',
  'null',
  'True',
  '0',
  '01',
  '1.5',
  '1e3',
  '0x1f',
  '0o7',
  '-1',
  '.inf',
  '10m',
  '---\n',
  '\n---\n',
  '...\n',
  '__proto__: 1\n',
  'a: 1\n',
  '  b: 2\n',
  '- x\n',
  '  - y\n',
  'k: [a, b]\n',
  'k: { a: 1 }\n',
  'k: "q"\n',
  "k: 'q'\n",
  'k:\n',
);

/** YAML as `yaml` writes it, with sequences indented or not, and spliced with pieces near the subset. */
export const plainManifestText: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(fc.oneof(validObject, objectShape), { minLength: 1, maxLength: 3 }),
    fc.boolean(),
    fc.array(fc.tuple(fc.nat(), nearSubset), { maxLength: 2 }),
  )
  .map(([objects, indentSeq, splices]) => {
    let text = objects.map((object) => stringify(object, { indentSeq })).join('---\n');
    for (const [at, piece] of splices) {
      const cut = at % (text.length + 1);
      text = text.slice(0, cut) + piece + text.slice(cut);
    }
    return text;
  });
