import { describe, expect, it } from 'vitest';
import { checkAdmission } from '../../../src/apply/admission.js';
import { AdmissionIndex } from '../../../src/apply/admission-index.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { ManifestError, parseManifests } from '../../../src/model/parse.js';
import { API_VERSION } from '../../../src/model/types.js';
import type { FileStore } from '../../../src/store/file-store.js';
import { projectYaml, storeProject, useTempFileStore } from '../../support/temp-file-store.js';

// The index a pass of the watched directory judges every file against: built once, kept
// current by the store's watch, so that a write made during the pass (by the pass itself
// or through the API) counts for the next file as it would have with a fresh listing.

let store: FileStore;
useTempFileStore('luma-admission-index-', (opened) => (store = opened));

function refusal(index: AdmissionIndex, yaml: string): string | undefined {
  try {
    checkAdmission(index, parseManifests(yaml, 'f.yaml'), DEFAULT_SETTINGS);
    return undefined;
  } catch (error) {
    if (error instanceof ManifestError) return error.issues.map((issue) => issue.message).join('; ');
    throw error;
  }
}

describe('AdmissionIndex', () => {
  it('finds projects by hostname and leases by project', async () => {
    await storeProject(store, 'b', ['shared.example.com']);
    await storeProject(store, 'a', ['a.example.com', 'shared.example.com']);
    await store.apply({
      apiVersion: API_VERSION,
      kind: 'Lease',
      metadata: { name: 'l1' },
      spec: { project: 'a', ttl: '30m' },
    });
    const index = AdmissionIndex.fromStore(store);
    expect(index.projectsDeclaring('shared.example.com')).toEqual(['a', 'b']);
    expect(index.projectsDeclaring('nobody.example.com')).toEqual([]);
    expect(index.leasesOf('a').map((lease) => lease.metadata.name)).toEqual(['l1']);
  });

  it('follows the store while it is followed: a hostname taken after it was built is refused, one freed is admitted', async () => {
    await storeProject(store, 'a', ['a.example.com']);
    const { index, stop } = await AdmissionIndex.following(store, () => Promise.resolve());
    await storeProject(store, 'late', ['late.example.com']);
    expect(refusal(index, projectYaml('b', ['late.example.com']))).toContain('already routed to project "late"');
    await storeProject(store, 'a', ['moved.example.com']);
    expect(refusal(index, projectYaml('b', ['a.example.com']))).toBeUndefined();
    await store.delete('Project', 'late');
    expect(refusal(index, projectYaml('b', ['late.example.com']))).toBeUndefined();
    stop();
    await storeProject(store, 'after', ['after.example.com']);
    expect(index.project('after')).toBeUndefined();
  });
});
