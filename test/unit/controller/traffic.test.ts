import { describe, expect, it } from 'vitest';
import {
  declaredTraffic,
  parseTagHostname,
  projectOfRevisionService,
  readyRevisions,
  revisionService,
  sharesOf,
  tagHostname,
  unknownRevisions,
  withTagUrls,
} from '../../../src/controller/traffic.js';
import { API_VERSION, type ProjectObject, type RevisionStatus, type TrafficEntry } from '../../../src/model/types.js';
import { webRevision as revision } from '../../support/revision-fixture.js';

function project(traffic?: TrafficEntry[]): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web', uid: 'u1' },
    spec: { image: 'web', hostnames: ['web.localhost', 'www.example.com'], ...(traffic ? { traffic } : {}) },
  };
}

const READY: RevisionStatus = { phase: 'Ready', readyAt: '2026-01-01T00:00:00Z' };
const RETIRED: RevisionStatus = { phase: 'Retired', readyAt: '2026-01-01T00:00:00Z' };

describe('declaredTraffic', () => {
  const revisions = [revision(1, RETIRED), revision(2, READY), revision(3)];
  const ready = readyRevisions(revisions);

  it('sends everything to the latest ready revision by default, never to one not ready', () => {
    expect(declaredTraffic(project(), revisions, ready)).toEqual([{ revisionName: 'web-2', percent: 100 }]);
  });

  it('resolves named revisions and latestRevision, keeping tags', () => {
    const traffic = declaredTraffic(
      project([
        { revisionName: 'web-1', percent: 90 },
        { latestRevision: true, percent: 10, tag: 'canary' },
      ]),
      revisions,
      ready,
    );
    expect(traffic).toEqual([
      { revisionName: 'web-1', percent: 90 },
      { revisionName: 'web-2', percent: 10, tag: 'canary' },
    ]);
  });

  it('names a revision that is not ready yet when asked by name (its requests wait for it)', () => {
    const traffic = declaredTraffic(project([{ revisionName: 'web-3', percent: 100 }]), revisions, ready);
    expect(traffic).toEqual([{ revisionName: 'web-3', percent: 100 }]);
  });

  it('gives the share of a revision that does not exist to the latest ready one, and says which', () => {
    const declared = project([
      { revisionName: 'web-9', percent: 30 },
      { latestRevision: true, percent: 70 },
    ]);
    expect(declaredTraffic(declared, revisions, ready)).toEqual([
      { revisionName: 'web-2', percent: 30 },
      { revisionName: 'web-2', percent: 70 },
    ]);
    expect(unknownRevisions(declared, revisions)).toEqual(['web-9']);
  });

  it('uses the newest revision before any became ready, and nothing without revisions', () => {
    expect(declaredTraffic(project(), [revision(1)], new Set())).toEqual([{ revisionName: 'web-1', percent: 100 }]);
    expect(declaredTraffic(project(), [], new Set())).toEqual([]);
  });
});

describe('sharesOf', () => {
  it('sums the entries of one revision and gathers its tag hostnames', () => {
    const shares = sharesOf(
      [
        { revisionName: 'web-1', percent: 90, tag: 'stable' },
        { revisionName: 'web-2', percent: 10 },
        { revisionName: 'web-2', percent: 0, tag: 'canary' },
      ],
      project(),
    );
    expect(shares).toEqual([
      { revision: 'web-1', weight: 90, hosts: ['stable---web.localhost'] },
      { revision: 'web-2', weight: 10, hosts: ['canary---web.localhost'] },
    ]);
  });
});

describe('tag hostnames and revision services', () => {
  it('puts the tag before the first hostname, Cloud Run style, and reads it back', () => {
    expect(tagHostname('canary', project())).toBe('canary---web.localhost');
    expect(parseTagHostname('canary---web.localhost')).toEqual({ tag: 'canary', host: 'web.localhost' });
    expect(parseTagHostname('web.localhost')).toBeUndefined();
    expect(parseTagHostname('---web.localhost')).toBeUndefined();
  });

  it('gives tagged targets their URL in status', () => {
    const url = (host: string, tls?: boolean): string => `${tls ? 'https' : 'http'}://${host}:8080`;
    expect(withTagUrls([{ revisionName: 'web-1', percent: 100, tag: 'old' }], project(), url)).toEqual([
      { revisionName: 'web-1', percent: 100, tag: 'old', url: 'http://old---web.localhost:8080' },
    ]);
  });

  it('never names a revision service like a project (web-1) nor a lease (lease.*)', () => {
    const name = revisionService('web', revision(1));
    expect(name).toBe('revision.web.1');
    expect(name).not.toBe('web-1');
    expect(name.startsWith('lease.')).toBe(false);
    expect(projectOfRevisionService(name)).toBe('web');
    expect(projectOfRevisionService('web')).toBeUndefined();
    expect(projectOfRevisionService('lease.web')).toBeUndefined();
  });
});
