import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, type ApiAnswer } from '../../support/api.js';
import { startTestApi, type TestApi } from '../../support/api-server.js';
import { anyJson, manifestText, objectShape } from '../../support/fuzz/manifest-arbitraries.js';
import { snapshotDifferences, snapshotDir } from '../../support/state-snapshot.js';

// Property-based fuzzing of the API's write paths over real HTTP (apply as YAML and as
// files, create/replace, renew, delete, context upload): never a 5xx, the server always
// answers, and a refused request (4xx) leaves the state directory byte for byte as it
// was. Accepted input may change the store; that is what it is for. LUMA_FUZZ_RUNS sets
// the cases per property (default 500; six properties, 3,000 cases).

const RUNS = Number(process.env.LUMA_FUZZ_RUNS ?? 500);
const TIMEOUT_MS = Math.max(180_000, RUNS * 100);
const PLURALS = ['projects', 'images', 'leases', 'widgets', ''];

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
  // Something to renew and replace: an existing project and lease.
  const seed = await apiCall(api.api, 'POST', '/apply', {
    rawBody: stringify({
      apiVersion: 'luma.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: 'web' },
      spec: { image: 'busybox', hostnames: ['web.localhost'] },
    }),
    headers: { 'content-type': 'application/yaml' },
  });
  expect(seed.status).toBe(200);
});

afterAll(async () => {
  await api?.close();
});

/** Sends one request; asserts no 5xx, and no change on disk when it was refused. */
async function probe(send: () => Promise<ApiAnswer>): Promise<void> {
  const before = await snapshotDir(api.dir);
  const answer = await send();
  expect(answer.status, answer.text).toBeLessThan(500);
  if (answer.status >= 400) {
    expect(
      snapshotDifferences(before, await snapshotDir(api.dir)),
      `refused with ${answer.status} ${answer.text}`,
    ).toEqual([]);
    expect(typeof (answer.json as { message?: unknown } | undefined)?.message, answer.text).toBe('string');
  }
}

const name = fc.oneof(
  fc.constantFrom('web', 'l1', 'a', 'UPPER', 'x'.repeat(70), '-a', 'a-'),
  fc.stringMatching(/^[a-z0-9-]{1,8}$/),
);
const contentType = fc.constantFrom(
  'application/yaml',
  'application/json',
  'text/plain',
  'application/x-yaml',
  'application/octet-stream',
  'multipart/form-data; boundary=x',
);

describe('API write paths under fuzzing', () => {
  it(
    'POST /apply: any manifest text',
    async () => {
      await fc.assert(
        fc.asyncProperty(manifestText, contentType, fc.boolean(), (text, type, dryRun) =>
          probe(() =>
            apiCall(api.api, 'POST', `/apply${dryRun ? '?dryRun=true' : ''}`, {
              rawBody: text,
              headers: { 'content-type': type },
            }),
          ),
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'POST /apply/files: any body shape',
    async () => {
      const files = fc.array(
        fc.record({ path: fc.oneof(fc.constant('a.yaml'), fc.string({ maxLength: 10 })), content: manifestText }),
        { maxLength: 3 },
      );
      const body = fc.oneof(
        fc.record({ files, dryRun: fc.boolean() }, { requiredKeys: ['files'] }),
        fc.record({ files: anyJson }),
        anyJson,
      );
      await fc.assert(
        fc.asyncProperty(body, (value) => probe(() => apiCall(api.api, 'POST', '/apply/files', { body: value }))),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'PUT /api/v1alpha1/PLURAL/NAME: any object shape',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...PLURALS), name, objectShape, (plural, objectName, object) =>
          probe(() =>
            apiCall(api.api, 'PUT', `/api/v1alpha1/${plural}/${encodeURIComponent(objectName)}`, { body: object }),
          ),
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'POST /api/v1alpha1/leases/NAME/renew: any body',
    async () => {
      const extend = fc.oneof(
        fc.constantFrom('5m', '0s', '-1m', '1e9h', '', '999999999999999999999m', 'NaN', '1.5m'),
        anyJson,
      );
      const body = fc.oneof(fc.record({ extend }), anyJson);
      await fc.assert(
        fc.asyncProperty(name, body, (lease, value) =>
          probe(() =>
            apiCall(api.api, 'POST', `/api/v1alpha1/leases/${encodeURIComponent(lease)}/renew`, { body: value }),
          ),
        ),
        {
          numRuns: RUNS,
        },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'DELETE and GET of any path under the API',
    async () => {
      const method = fc.constantFrom('DELETE', 'GET');
      const query = fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 12 }).map((text) => `?resourceVersion=${encodeURIComponent(text)}`),
      );
      await fc.assert(
        fc.asyncProperty(
          method,
          fc.constantFrom(...PLURALS),
          fc.constantFrom('nope', 'UPPER', 'l1', '%00', '..', 'x'.repeat(80)),
          query,
          (verb, plural, objectName, search) =>
            probe(() => apiCall(api.api, verb, `/api/v1alpha1/${plural}/${objectName}${search}`)),
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'POST /contexts: any bytes as an archive',
    async () => {
      const magic = fc.constantFrom(
        Buffer.alloc(0),
        Buffer.from([0x1f, 0x8b, 0x08]),
        Buffer.from('PK\u0003\u0004'),
        Buffer.alloc(512, 0x61),
        Buffer.from('ustar\u000000'),
      );
      const bytes = fc
        .tuple(magic, fc.uint8Array({ maxLength: 2_048 }))
        .map(([head, tail]) => Buffer.concat([head, Buffer.from(tail)]));
      const type = fc.constantFrom(
        'application/x-tar',
        'application/gzip',
        'application/zip',
        'application/octet-stream',
      );
      await fc.assert(
        fc.asyncProperty(bytes, type, (body, mime) =>
          probe(() => apiCall(api.api, 'POST', '/contexts', { rawBody: body, headers: { 'content-type': mime } })),
        ),
        {
          numRuns: RUNS,
        },
      );
    },
    TIMEOUT_MS,
  );
});
