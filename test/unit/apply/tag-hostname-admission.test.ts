import { describe, expect, it } from 'vitest';
import { checkAdmission } from '../../../src/apply/admission.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { formatIssue, ManifestError, parseManifests } from '../../../src/model/parse.js';
import { API_VERSION, type TrafficEntry } from '../../../src/model/types.js';
import type { FileStore } from '../../../src/store/file-store.js';
import { projectYaml, useTempFileStore } from '../../support/temp-file-store.js';

// Tag hostnames (<tag>---<first hostname>) against project hostnames and lease hostnames,
// in every direction, each refusal at its file:line:column and naming both sides.

let store: FileStore;
useTempFileStore('luma-tag-admission-', (opened) => (store = opened));

async function storeProject(name: string, hostnames: string[], traffic?: TrafficEntry[]): Promise<void> {
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name },
    spec: { image: 'hello', hostnames, ...(traffic ? { traffic } : {}) },
  });
}

function leaseYaml(name: string, project: string): string {
  return [
    `apiVersion: ${API_VERSION}`,
    'kind: Lease',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  project: ${project}`,
    '  ttl: 30m',
    '',
  ].join('\n');
}

const TAGGED = ['  traffic:', '    - { latestRevision: true, percent: 100, tag: canary }'];

function errors(text: string, file: string): string[] {
  try {
    checkAdmission(store, parseManifests(text, file), DEFAULT_SETTINGS);
  } catch (error) {
    if (error instanceof ManifestError) return error.issues.map(formatIssue);
    throw error;
  }
  return [];
}

describe('checkAdmission: tag hostnames', () => {
  it('admits a tag whose hostname nobody else uses', () => {
    expect(errors(projectYaml('web', ['web.localhost'], 'hello', TAGGED), 'web.yaml')).toEqual([]);
  });

  it('refuses a tag whose hostname another project declares, naming that project', async () => {
    await storeProject('other', ['canary---web.localhost']);
    expect(errors(projectYaml('web', ['web.localhost'], 'hello', TAGGED), 'web.yaml')).toEqual([
      'web.yaml:10:50: spec.traffic[0].tag: this tag would reach its revision at "canary---web.localhost", a hostname project "other" declares; choose another tag',
    ]);
  });

  it('refuses a project declaring the hostname of a tag of another project', async () => {
    await storeProject('web', ['web.localhost'], [{ latestRevision: true, percent: 100, tag: 'canary' }]);
    expect(errors(projectYaml('grab', ['canary---web.localhost']), 'grab.yaml')).toEqual([
      'grab.yaml:8:7: spec.hostnames[0]: hostname "canary---web.localhost" is where tag "canary" of project "web" is reached; hostnames and tag hostnames must differ',
    ]);
  });

  it('refuses a tag reached where a lease is, and a lease reached where a tag is', async () => {
    await storeProject('base', ['web.localhost']);
    await storeProject('sub', ['x.web.localhost'], [{ latestRevision: true, percent: 100, tag: 'canary' }]);
    // Lease "canary---x" of base is reached at canary---x.web.localhost, sub's tag hostname.
    expect(errors(leaseYaml('canary---x', 'base'), 'lease.yaml')).toEqual([
      'lease.yaml:4:9: metadata.name: this lease would be reached at "canary---x.web.localhost", where tag "canary" of project "sub" is reached; choose another lease name',
    ]);
    await store.apply({
      apiVersion: API_VERSION,
      kind: 'Lease',
      metadata: { name: 'try---x' },
      spec: { project: 'base', ttl: '30m' },
    });
    const tagged = ['  traffic:', '    - { latestRevision: true, percent: 100, tag: try }'];
    expect(errors(projectYaml('sub', ['x.web.localhost'], 'hello', tagged), 'sub.yaml')).toEqual([
      'sub.yaml:10:50: spec.traffic[0].tag: this tag would reach its revision at "try---x.web.localhost", where lease "try---x" of project "base" is reached; choose another tag',
    ]);
  });
});
