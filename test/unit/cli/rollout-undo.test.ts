import { describe, expect, it } from 'vitest';
import { rolloutHolding, undoTarget } from '../../../src/cli/commands/rollout-undo.js';
import { rolloutState } from '../../../src/cli/rollout-format.js';
import { API_VERSION, type ProjectObject, type RolloutStatus } from '../../../src/model/types.js';
import { webRevision } from '../../support/revision-fixture.js';

// Which revision `luma rollout undo` goes back to: kubectl's previous revision, except
// while a progressive rollout holds the split, when it is that rollout's stable revision.

const REVISIONS = [1, 2, 3].map((number) => webRevision(number));

function project(rollout?: RolloutStatus): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web', uid: 'u1', generation: 3 },
    spec: { image: 'web', hostnames: ['web.localhost'] },
    status: {
      observedGeneration: 3,
      revisions: { latestCreated: 'web-3', latestReady: 'web-3' },
      traffic: [
        { revisionName: 'web-2', percent: 90 },
        { revisionName: 'web-3', percent: 10 },
      ],
      ...(rollout ? { rollout } : {}),
    },
  };
}

const ROLLOUT: RolloutStatus = { phase: 'Progressing', stable: 'web-2', candidate: 'web-3', step: 0 };

describe('rollout undo', () => {
  it('during a rollout goes back to its stable revision, not the one before the largest share', () => {
    for (const phase of ['Progressing', 'Paused', 'RolledBack'] as const) {
      const web = project({ ...ROLLOUT, phase });
      expect(undoTarget(web, REVISIONS).metadata.name).toBe('web-2');
      expect(rolloutHolding(web)).toEqual({ candidate: 'web-3', stable: 'web-2' });
    }
    // --to-revision still wins.
    expect(undoTarget(project(ROLLOUT), REVISIONS, 1).metadata.name).toBe('web-1');
  });

  it('without a rollout holding the split: the revision before the one serving, as kubectl', () => {
    const settled = project({ ...ROLLOUT, phase: 'Succeeded' });
    settled.status!.traffic = [{ revisionName: 'web-3', percent: 100 }];
    expect(undoTarget(settled, REVISIONS).metadata.name).toBe('web-2');
    expect(rolloutHolding(settled)).toBeUndefined();
    expect(rolloutHolding(project({ ...ROLLOUT, phase: 'Undone' }))).toBeUndefined();
  });

  it('rollout status says an undone rollout is over', () => {
    const message = 'rollout of web-3 undone at step 1; all traffic to web-2';
    expect(rolloutState(project({ ...ROLLOUT, phase: 'Undone', stable: 'web-2', message }))).toEqual({
      done: true,
      message: `project/web: ${message}`,
    });
  });
});
