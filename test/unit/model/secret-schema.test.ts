import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifests } from '../../../src/model/parse.js';
import type { ProjectObject, SecretObject } from '../../../src/model/types.js';

function issuesOf(text: string): string[] {
  try {
    parseManifests(text, 'm.yaml');
  } catch (error) {
    if (error instanceof ManifestError) return error.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
    throw error;
  }
  return [];
}

const HEAD = 'apiVersion: luma.dev/v1alpha1\nkind: Secret\nmetadata:\n  name: db\n';

describe('Secret manifests', () => {
  it('takes stringData and base64 data as Kubernetes does, stringData winning', () => {
    const [doc] = parseManifests(
      `${HEAD}type: Opaque\ndata:\n  a: aGk=\n  b: eA==\nstringData:\n  b: plain\n`,
      'm.yaml',
    );
    const secret = doc!.object as SecretObject;
    expect(secret.spec).toEqual({
      type: 'Opaque',
      data: { a: { plain: 'aGk=' }, b: { plain: Buffer.from('plain').toString('base64') } },
    });
  });

  it('refuses data that is not base64 and bad keys, with line and column, never echoing the value', () => {
    const issues = issuesOf(`${HEAD}data:\n  token: not base64!!\n  "bad key": aGk=\n`);
    expect(issues.join('\n')).toMatch(/6:10 data.token: expected base64/);
    expect(issues.join('\n')).toMatch(/7:3 data: a key here is not allowed: expected a key made of letters/);
    expect(issues.join('\n')).not.toContain('bad key');
    expect(issues.join('\n')).not.toContain('not base64!!');
  });

  it('refuses a spec: a Secret is written with data or stringData', () => {
    expect(issuesOf(`${HEAD}spec:\n  data: {}\n`).join('\n')).toMatch(/5:1.*spec/);
  });
});

describe('env from a Secret', () => {
  const project = (env: string): string =>
    `apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec:\n  image: i\n  hostnames: [p.localhost]\n  env:\n${env}`;

  it('accepts valueFrom.secretKeyRef beside plain values', () => {
    const [doc] = parseManifests(
      project('    MODE: prod\n    DB_PASSWORD:\n      valueFrom:\n        secretKeyRef: {name: db, key: password}\n'),
      'p.yaml',
    );
    expect((doc!.object as ProjectObject).spec.env).toEqual({
      MODE: 'prod',
      DB_PASSWORD: { valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    });
  });

  it('refuses a reference without a key, with its position', () => {
    const issues = issuesOf(project('    DB_PASSWORD:\n      valueFrom:\n        secretKeyRef: {name: db}\n'));
    expect(issues.join('\n')).toMatch(/^\d+:\d+ spec.env.DB_PASSWORD/m);
  });
});

describe('Secret values in messages', () => {
  it('never repeats a value, whatever is wrong with it', () => {
    const issues = issuesOf(`${HEAD}stringData:\n  pin: 918273\ndata:\n  token: "%%918273%%"\n`).join('\n');
    expect(issues).toMatch(/stringData.pin: expected string \(the value is not shown\)/);
    expect(issues).toMatch(/data.token: expected base64.*\(the value is not shown\)/);
    expect(issues).not.toContain('918273');
  });

  it('refuses a NUL byte and bytes that are not UTF-8, naming the key and never the value', () => {
    const issues = issuesOf(`${HEAD}stringData:\n  bin: "AB\0CD-hunter2"\ndata:\n  nul: QUIAQ0Q=\n  raw: /w==\n`).join(
      '\n',
    );
    expect(issues).toMatch(/6:8 stringData.bin: the value of key "bin" holds a NUL byte/);
    expect(issues).toMatch(/8:8 data.nul: the value of key "nul" holds a NUL byte/);
    expect(issues).toMatch(/9:8 data.raw: the value of key "raw" is not UTF-8 text/);
    expect(issues).not.toContain('hunter2');
    expect(issues).not.toContain('QUIAQ0Q=');
  });

  it('never quotes what is written under data or stringData when it has the wrong shape', () => {
    const issues = [
      ...issuesOf(`${HEAD}stringData: "password:hunter2"\n`),
      ...issuesOf(`${HEAD}stringData:\n  password=hunter2: x\n`),
      ...issuesOf(`${HEAD}data:\n  - hunter2\n`),
      ...issuesOf(`${HEAD}stringData:\n  password: [hunter2]\n`),
      ...issuesOf(`"password=hunter2"\n`),
    ].join('\n');
    expect(issues).toMatch(/5:13 stringData: expected a mapping \(the value is not shown\)/);
    expect(issues).toMatch(/6:3 stringData: a key here is not allowed/);
    expect(issues).toMatch(/5:1 data: expected a mapping/);
    expect(issues).toMatch(/6:13 stringData.password: expected string/);
    expect(issues).toMatch(
      /1:1 : expected a mapping with apiVersion, kind, metadata and spec, got a string \(not shown\)/,
    );
    expect(issues).not.toContain('hunter2');
  });

  it('limits a value to 128 KiB and a Secret to 1 MiB, naming the key', () => {
    const big = 'x'.repeat(128 * 1024 + 1);
    expect(issuesOf(`${HEAD}stringData:\n  ok: ${'x'.repeat(128 * 1024)}\n`)).toEqual([]);
    expect(issuesOf(`${HEAD}stringData:\n  big: ${big}\n`).join('\n')).toMatch(
      /6:8 stringData.big: the value of key "big" is 131073 bytes, more than the 128 KiB/,
    );
    const keys = Array.from({ length: 9 }, (_, index) => `  k${index}: ${'x'.repeat(120 * 1024)}\n`).join('');
    expect(issuesOf(`${HEAD}stringData:\n${keys}`).join('\n')).toMatch(
      /expected at most 1 MiB of values in one Secret/,
    );
    // A key in both maps counts once, with stringData's value.
    const both = Array.from({ length: 5 }, (_, index) => `  k${index}: ${'x'.repeat(120 * 1024)}\n`).join('');
    const encoded = both.replace(/x+/g, (run) => Buffer.from(run).toString('base64'));
    expect(issuesOf(`${HEAD}stringData:\n${both}data:\n${encoded}`)).toEqual([]);
  });
});
