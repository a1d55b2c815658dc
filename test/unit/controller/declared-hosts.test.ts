import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { declaredHostsIn } from '../../../src/controller/declared-hosts.js';
import { API_VERSION } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';

// What the store declares for each proxy service: the oracle the controller consults
// before moving a host away from its holder.

let stateDir: string;
let store: FileStore;

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-declared-'));
  store = await FileStore.open(stateDir);
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web' },
    spec: { image: 'hello:latest', hostnames: ['web.test', 'www.test'] },
  });
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Lease',
    metadata: { name: 'l1' },
    spec: { project: 'web', ttl: '10m' },
  });
});

afterEach(async () => {
  await store.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe('declaredHostsIn', () => {
  it('gives a project its hostnames and a lease <lease>.<first project hostname>', () => {
    const declared = declaredHostsIn(store);
    expect(declared('web')).toEqual(['web.test', 'www.test']);
    expect(declared('lease.l1')).toEqual(['l1.web.test']);
  });

  it('declares nothing for a project being deleted, an ended lease or a gone lease', async () => {
    await store.updateStatus('Lease', 'l1', { phase: 'Expired' });
    await store.setFinalizers('Project', 'web', ['test/hold']);
    await store.delete('Project', 'web');
    const declared = declaredHostsIn(store);
    expect(declared('web')).toEqual([]);
    expect(declared('lease.l1')).toEqual([]);
    expect(declared('lease.gone')).toEqual([]);
  });

  it('knows nothing of a service that is neither a project nor a lease (deployed by hand)', () => {
    expect(declaredHostsIn(store)('manual')).toBeUndefined();
  });
});
