import { describe, expect, it } from 'vitest';
import { ContainerSightings } from '../../../src/controller/container-sightings.js';
import type { ManagedContainer } from '../../../src/runtime/runtime.js';

// What a resync's container list may answer for the reconciles it queued, and when they
// must ask the engine instead.

function container(id: string, name: string, role: ManagedContainer['role'] = 'instance'): ManagedContainer {
  return {
    id,
    name: `luma-${name}-${id}`,
    owner: { kind: 'Project', name, uid: `uid-${name}` },
    role,
    specHash: 'h',
    state: 'exited',
    appPort: 8080,
    image: 'hello',
    createdAt: new Date(0),
  };
}

function listed(...containers: ManagedContainer[]): ContainerSightings {
  const sightings = new ContainerSightings();
  sightings.record(sightings.beginList(), containers);
  return sightings;
}

const WEB = { kind: 'Project', name: 'web' } as const;

describe('ContainerSightings', () => {
  it("answers a handed reconcile with its owner's containers, by role, once", () => {
    const sightings = listed(container('a', 'web'), container('b', 'web', 'pool'), container('c', 'api'));
    sightings.hand('Project/web');
    const observed = sightings.take('Project/web');
    expect(observed?.list({ ...WEB, role: 'instance' })?.map((c) => c.id)).toEqual(['a']);
    expect(observed?.list({ kind: 'Project', name: 'api' })).toBeUndefined();
    expect(sightings.take('Project/web')).toBeUndefined();
  });

  it("hands a pool's reconcile its project's containers, and a project without any an empty list", () => {
    const sightings = listed(container('b', 'web', 'pool'));
    sightings.hand('Pool/web');
    sightings.hand('Project/idle');
    expect(
      sightings
        .take('Pool/web')
        ?.list({ ...WEB, role: 'pool' })
        ?.map((c) => c.id),
    ).toEqual(['b']);
    expect(sightings.take('Project/idle')?.list({ kind: 'Project', name: 'idle' })).toEqual([]);
  });

  it('gives nothing to a key the resync did not queue', () => {
    expect(listed(container('a', 'web')).take('Project/web')).toBeUndefined();
  });

  it('sends the reconcile to the engine once its owner was touched after the list was asked for', () => {
    const sightings = new ContainerSightings();
    sightings.touch(WEB); // before the list: the list shows it
    const seq = sightings.beginList();
    sightings.touch({ kind: 'Project', name: 'api' }); // after: the list may miss it
    sightings.record(seq, [container('a', 'web'), container('c', 'api')]);
    sightings.hand('Project/web');
    sightings.hand('Project/api');
    expect(sightings.take('Project/web')?.list(WEB)).toHaveLength(1);
    expect(sightings.take('Project/api')?.list({ kind: 'Project', name: 'api' })).toBeUndefined();
  });

  it('a change to a listed container touches its owner only; one to an unknown container, everyone', () => {
    const sightings = listed(container('a', 'web'), container('c', 'api'));
    for (const key of ['Project/web', 'Project/api']) sightings.hand(key);
    const web = sightings.take('Project/web');
    const api = sightings.take('Project/api');
    sightings.touchContainer('a');
    expect(web?.list(WEB)).toBeUndefined();
    expect(api?.list({ kind: 'Project', name: 'api' })).toHaveLength(1);
    sightings.touchContainer('unknown');
    expect(api?.list({ kind: 'Project', name: 'api' })).toBeUndefined();
  });

  it('a newer list replaces what was handed, and a failed one withdraws it', () => {
    const sightings = listed(container('a', 'web'));
    sightings.hand('Project/web');
    const stale = sightings.take('Project/web');
    sightings.record(sightings.beginList(), []);
    expect(stale?.list(WEB)).toBeUndefined();
    sightings.hand('Project/web');
    sightings.lost();
    expect(sightings.take('Project/web')).toBeUndefined();
  });
});
