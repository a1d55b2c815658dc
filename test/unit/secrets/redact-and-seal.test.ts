import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../../src/model/parse.js';
import type { Kind, LumaObject, ObjectOfKind, SecretObject } from '../../../src/model/types.js';
import type { ObjectStore } from '../../../src/store/store.js';
import { redactObject, redactSecrets } from '../../../src/secrets/redact.js';
import { SecretBox } from '../../../src/secrets/secret-box.js';
import { holdsPlainValue, sealSecret } from '../../../src/secrets/seal.js';
import { resolveSecretEnv } from '../../../src/secrets/secret-env.js';

const VALUE = 'pa55-w0rd-never-shown';
const box = new SecretBox(randomBytes(32));

function manifest(value = VALUE): SecretObject {
  const [doc] = parseManifests(
    `apiVersion: luma.dev/v1alpha1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: ${value}\ndata:\n  user: YWRtaW4=\n`,
    'secret.yaml',
  );
  return doc!.object as SecretObject;
}

/** Only `get` is read; the cast narrows a lookup of any kind to what the store's signature promises. */
function storeOf(...objects: LumaObject[]): Pick<ObjectStore, 'get'> {
  return {
    get: <K extends Kind>(kind: K, name: string) =>
      objects.find((o) => o.kind === kind && o.metadata.name === name) as ObjectOfKind<K> | undefined,
  };
}

describe('sealSecret', () => {
  it('replaces each plain value with its digest and sealed form', () => {
    const sealed = sealSecret(manifest(), box, undefined);
    expect(holdsPlainValue(sealed)).toBe(false);
    expect(JSON.stringify(sealed)).not.toContain(VALUE);
    expect(JSON.stringify(sealed)).not.toContain(Buffer.from(VALUE).toString('base64'));
    expect(sealed.spec.data.password?.digest).toBe(box.digest(Buffer.from(VALUE), { secret: 'db', key: 'password' }));
    expect(box.open(sealed.spec.data.user!.sealed!, { secret: 'db', key: 'user' }).toString()).toBe('admin');
  });

  it('keeps the stored sealed form of an unchanged value, so a re-apply changes nothing', () => {
    const first = sealSecret(manifest(), box, undefined);
    expect(sealSecret(manifest(), box, first)).toEqual(first);
    const changed = sealSecret(manifest('another-value'), box, first);
    expect(changed.spec.data.password?.digest).not.toBe(first.spec.data.password?.digest);
    expect(changed.spec.data.user).toEqual(first.spec.data.user);
  });
});

describe('redaction', () => {
  const sealed = sealSecret(manifest(), box, undefined);

  it('shows each key with its digest only', () => {
    const shown = redactObject(sealed);
    expect(shown.spec.data).toEqual({
      password: { digest: sealed.spec.data.password?.digest },
      user: { digest: sealed.spec.data.user?.digest },
    });
  });

  it('finds Secrets nested anywhere in an answer, and leaves other objects as they are', () => {
    const project = { apiVersion: 'luma.dev/v1alpha1', kind: 'Project', metadata: { name: 'p' }, spec: { env: {} } };
    const answer = { items: [sealed, project], results: [{ object: sealed, live: null }] };
    const text = JSON.stringify(redactSecrets(answer));
    expect(text).not.toContain('v1:');
    expect(text).toContain(sealed.spec.data.password!.digest!);
    expect((redactSecrets(answer) as { items: unknown[] }).items[1]).toBe(project);
    // The answer it was given is not changed: only the path to each Secret is copied.
    expect(answer.items[0]).toBe(sealed);
    expect(JSON.stringify(answer)).toContain('v1:');
  });

  it('gives back an answer that holds no Secret as it is, without copying it', () => {
    const status = { files: [{ file: 'a.yaml', objects: ['Project/a'] }], pruned: [], phase: 'Synced', when: null };
    expect(redactSecrets(status)).toBe(status);
  });
});

describe('resolveSecretEnv', () => {
  const sealed = sealSecret(manifest(), box, undefined);

  it('opens the referenced values and gives their digests', () => {
    const resolved = resolveSecretEnv(storeOf(sealed), box, { DB_PASSWORD: { name: 'db', key: 'password' } });
    expect(resolved).toEqual({
      env: { DB_PASSWORD: VALUE },
      digests: { DB_PASSWORD: sealed.spec.data.password?.digest },
    });
  });

  it('says which secret or key is missing, without a value', () => {
    expect(resolveSecretEnv(storeOf(), box, { A: { name: 'db', key: 'password' } })).toEqual({
      missing: 'variable A: secret "db" does not exist',
    });
    expect(resolveSecretEnv(storeOf(sealed), box, { A: { name: 'db', key: 'token' } })).toEqual({
      missing: 'variable A: secret "db" has no key "token"',
    });
    const other = resolveSecretEnv(storeOf(sealed), new SecretBox(randomBytes(32)), { A: { name: 'db', key: 'user' } });
    expect(other).toEqual({ missing: expect.stringMatching(/does not open with this secret key/) });
  });
});
