import { describe, expect, it } from 'vitest';
import { heldTraffic, resolveTraffic, sameTraffic } from '../../../src/controller/traffic-route.js';
import {
  API_VERSION,
  type ProjectObject,
  type ProjectStatus,
  type RevisionObject,
  type RolloutStatus,
} from '../../../src/model/types.js';
import { webRevision } from '../../support/revision-fixture.js';

// The seam between spec.rollout and the split: which traffic a rollout holds in place of
// spec.traffic, and that the split the proxy gets is the held one.

const STEPS = { steps: [{ percent: 10, durationSeconds: 30 }] };

function project(status?: ProjectStatus, withRollout = true): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web', uid: 'u1' },
    spec: { image: 'web', hostnames: ['web.localhost'], ...(withRollout ? { rollout: STEPS } : {}) },
    ...(status ? { status } : {}),
  };
}

function revision(number: number): RevisionObject {
  return webRevision(number, { phase: 'Ready', readyAt: '2026-01-01T00:00:00Z' });
}

function rollout(phase: RolloutStatus['phase'], candidate = 'web-2'): RolloutStatus {
  return { phase, stable: 'web-1', candidate, step: 0 };
}

const SPLIT = [
  { revisionName: 'web-1', percent: 90 },
  { revisionName: 'web-2', percent: 10 },
];

describe('heldTraffic', () => {
  it.each([
    ['Progressing', SPLIT],
    ['Paused', SPLIT],
    ['RolledBack', [{ revisionName: 'web-1', percent: 100 }]],
  ] as const)('while the rollout of the revision run now is %s: the split it decided', (phase, traffic) => {
    const held = heldTraffic(project({ rollout: rollout(phase), traffic: [...traffic] }), 'web-2');
    expect(held).toEqual(traffic);
  });

  it('a finished rollout holds nothing: the declared traffic routes again', () => {
    expect(heldTraffic(project({ rollout: rollout('Succeeded'), traffic: SPLIT }), 'web-2')).toBeUndefined();
  });

  it('a new revision the rollout has not taken up yet: all on the last good one', () => {
    const status: ProjectStatus = { revisions: { latestCreated: 'web-3', latestReady: 'web-2' } };
    expect(heldTraffic(project(status), 'web-3')).toEqual([{ revisionName: 'web-2', percent: 100 }]);
    // A newer revision during (or after the rollback of) an older candidate's rollout: all
    // on that rollout's stable revision, never on the canary that became latestReady.
    for (const phase of ['Progressing', 'RolledBack'] as const) {
      const older = { ...status, rollout: rollout(phase, 'web-2'), traffic: SPLIT };
      expect(heldTraffic(project(older), 'web-3')).toEqual([{ revisionName: 'web-1', percent: 100 }]);
    }
    // After a rollout succeeded, its candidate is the last good one.
    const done = { ...status, rollout: rollout('Succeeded', 'web-2') };
    expect(heldTraffic(project(done), 'web-3')).toEqual([{ revisionName: 'web-2', percent: 100 }]);
  });

  it('an undone rollout holds nothing; a newer revision waits on the undo target', () => {
    const undone = { ...rollout('Undone'), stable: 'web-0' };
    const status: ProjectStatus = { rollout: undone, traffic: SPLIT, revisions: { latestCreated: 'web-2' } };
    expect(heldTraffic(project(status), 'web-2')).toBeUndefined();
    expect(heldTraffic(project(status), 'web-3')).toEqual([{ revisionName: 'web-0', percent: 100 }]);
  });

  it('no spec.rollout, or no revision ready before: nothing held', () => {
    const status: ProjectStatus = { revisions: { latestCreated: 'web-2', latestReady: 'web-1' } };
    expect(heldTraffic(project(status, false), 'web-2')).toBeUndefined();
    expect(heldTraffic(project({ revisions: { latestCreated: 'web-1' } }), 'web-1')).toBeUndefined();
  });
});

describe('resolveTraffic with a held split', () => {
  it('routes the held split even without spec.traffic, the run revision on the own route', () => {
    const resolved = resolveTraffic(project(), [revision(1), revision(2)], 'web-2', SPLIT);
    expect(resolved.status).toEqual(SPLIT);
    expect(resolved.shares.map((share) => [share.revision, share.weight, share.service])).toEqual([
      ['web-1', 90, 'revision.web.1'],
      ['web-2', 10, 'web'],
    ]);
  });

  it("keeps the project's declared tags as 0 % shares, so their hostnames still reach their revisions", () => {
    const web = project();
    web.spec.traffic = [
      { revisionName: 'web-1', percent: 100, tag: 'stable' },
      { latestRevision: true, percent: 0, tag: 'next' },
    ];
    // The held split as written at an earlier converge, tags and all: the tags are refreshed, not doubled.
    const written = [...SPLIT, { revisionName: 'web-1', percent: 0, tag: 'old' }];
    const resolved = resolveTraffic(web, [revision(1), revision(2)], 'web-2', written);
    expect(resolved.status).toEqual([
      ...SPLIT,
      { revisionName: 'web-1', percent: 0, tag: 'stable' },
      { revisionName: 'web-2', percent: 0, tag: 'next' },
    ]);
    expect(resolved.shares.map((share) => [share.revision, share.weight, share.service, share.hosts])).toEqual([
      ['web-1', 90, 'revision.web.1', ['stable---web.localhost']],
      ['web-2', 10, 'web', ['next---web.localhost']],
    ]);
    // The kept tags move no weight: the rollout's split is routed as it is, no reroute.
    expect(sameTraffic(SPLIT, resolved.status)).toBe(true);
  });

  it('without one and without spec.traffic, no split at all', () => {
    expect(resolveTraffic(project(), [revision(1), revision(2)], 'web-2').shares).toEqual([]);
  });
});

describe('sameTraffic', () => {
  it('compares revisions and percents, in order, not tags', () => {
    expect(
      sameTraffic(
        SPLIT,
        SPLIT.map((target) => ({ ...target, tag: 't' })),
      ),
    ).toBe(true);
    expect(sameTraffic(SPLIT, [{ revisionName: 'web-1', percent: 100 }])).toBe(false);
    expect(sameTraffic(SPLIT, [...SPLIT].reverse())).toBe(false);
  });
});
