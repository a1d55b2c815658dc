import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_PROJECT_SETTINGS, resolveProjectSettings } from '../../../src/model/project-settings.js';
import type { Kind, LumaObject, ObjectOfKind, ProjectObject, SecretObject } from '../../../src/model/types.js';
import { containerSpecHash, resolveRunnable } from '../../../src/controller/project-route.js';
import { SecretBox } from '../../../src/secrets/secret-box.js';
import { sealSecret } from '../../../src/secrets/seal.js';
import type { ObjectStore } from '../../../src/store/store.js';
import { shortHash } from '../../../src/util/hash.js';

// What a project runs when its env reads a Secret: the value in the container's env, and
// a spec hash made from the value's digest, which changes exactly when the value does.

const box = new SecretBox(randomBytes(32));

const project: ProjectObject = {
  apiVersion: 'luma.dev/v1alpha1',
  kind: 'Project',
  metadata: { name: 'shop', uid: 'u1' },
  spec: {
    image: 'busybox:latest',
    hostnames: ['shop.localhost'],
    env: { MODE: 'prod', DB_PASSWORD: { valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } } },
  },
};

function secret(value: string, current?: SecretObject): SecretObject {
  const plain: SecretObject = {
    apiVersion: 'luma.dev/v1alpha1',
    kind: 'Secret',
    metadata: { name: 'db' },
    spec: { type: 'Opaque', data: { password: { plain: Buffer.from(value).toString('base64') } } },
  };
  return sealSecret(plain, box, current);
}

/** A store with these objects; only get and list are read. */
function storeOf(...objects: LumaObject[]): ObjectStore {
  const find = <K extends Kind>(kind: K, name: string): ObjectOfKind<K> | undefined =>
    objects.find((o) => o.kind === kind && o.metadata.name === name) as ObjectOfKind<K> | undefined;
  return { get: find, list: () => [] } as unknown as ObjectStore;
}

function run(store: ObjectStore): { env: Record<string, string>; hash: string } {
  const runnable = resolveRunnable(store, project, BUILT_IN_PROJECT_SETTINGS, box);
  if (!('hash' in runnable)) throw new Error(`not runnable: ${JSON.stringify(runnable)}`);
  return { env: runnable.settings.env, hash: runnable.hash };
}

describe('a project whose env reads a Secret', () => {
  it('runs with the value in its env, and waits (naming the key) while the secret is missing', () => {
    expect(run(storeOf(secret('v1'))).env).toEqual({ DB_PASSWORD: 'v1', MODE: 'prod', PORT: '8080' });
    expect(resolveRunnable(storeOf(), project, BUILT_IN_PROJECT_SETTINGS, box)).toMatchObject({
      missingSecret: 'variable DB_PASSWORD: secret "db" does not exist',
    });
  });

  it('gets a new spec hash when the value changes, the same one when it is applied again', () => {
    const first = secret('v1');
    const again = secret('v1', first);
    const changed = secret('v2', first);
    expect(run(storeOf(again)).hash).toBe(run(storeOf(first)).hash);
    expect(run(storeOf(changed)).hash).not.toBe(run(storeOf(first)).hash);
  });

  it('hashes the digest, not the value, and leaves the hash of a project without secrets as it was', () => {
    const settings = { ...resolveProjectSettings(project.spec), image: 'busybox:latest' };
    const withValue = {
      ...settings,
      env: { ...settings.env, DB_PASSWORD: 'v1' },
      secretDigests: { DB_PASSWORD: 'd1' },
    };
    const otherValue = { ...withValue, env: { ...withValue.env, DB_PASSWORD: 'v2' } };
    expect(containerSpecHash(otherValue)).toBe(containerSpecHash(withValue));
    expect(containerSpecHash({ ...withValue, secretDigests: { DB_PASSWORD: 'd2' } })).not.toBe(
      containerSpecHash(withValue),
    );
    const plain = resolveProjectSettings({ image: 'i', hostnames: ['h.localhost'], env: { A: 'b' } });
    expect(plain.secretEnv).toBeUndefined();
    // The fields hashed before secrets existed: running containers are not replaced by an upgrade.
    const before = shortHash({
      image: plain.image,
      port: plain.port,
      env: plain.env,
      command: null,
      cpuMillis: null,
      memoryBytes: null,
      capabilities: plain.capabilities,
    });
    expect(containerSpecHash(plain)).toBe(before);
  });
});
