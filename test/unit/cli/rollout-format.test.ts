import { describe, expect, it } from 'vitest';
import { changeOf, historyTable, rolloutState } from '../../../src/cli/rollout-format.js';
import { API_VERSION, type ProjectObject, type ProjectSpec, type RevisionObject } from '../../../src/model/types.js';

// `luma rollout history` and `luma rollout status`, from a project and its revisions.

const NOW = Date.parse('2026-01-01T12:00:00.000Z');

function revision(
  number: number,
  image: string,
  template: Partial<ProjectSpec>,
  phase?: 'Ready' | 'Retired',
): RevisionObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Revision',
    metadata: { name: `web-${number}`, creationTimestamp: new Date(NOW - 60_000).toISOString() },
    spec: { project: 'web', projectUid: 'u', number, image, template },
    ...(phase ? { status: { phase } } : {}),
  };
}

function project(status: ProjectObject['status'], generation = 2): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web', generation },
    spec: { image: 'app', hostnames: ['web.localhost'] },
    ...(status ? { status } : {}),
  };
}

describe('changeOf', () => {
  const first = revision(1, 'app:1', { image: 'app', env: { A: '1' } });

  it('names the fields that changed, and the image when only its tag moved', () => {
    expect(changeOf(first, undefined)).toBe('(first)');
    expect(changeOf(revision(2, 'app:1', { image: 'app', env: { A: '2' }, port: 9000 }), first)).toBe('env, port');
    expect(changeOf(revision(2, 'app:2', { image: 'app', env: { A: '1' } }), first)).toBe('image');
    expect(changeOf(revision(2, 'app:1', { image: 'app', env: { A: '1' } }), first)).toBe('(same spec)');
  });
});

describe('historyTable', () => {
  it('lists the revisions oldest first, with status, image and change', () => {
    const text = historyTable(
      [revision(2, 'app:2', { image: 'app' }, 'Ready'), revision(1, 'app:1', { image: 'app' }, 'Retired')],
      NOW,
    );
    expect(text.trimEnd().split('\n')).toEqual([
      'REVISION   NAME    STATUS    AGE   IMAGE   CHANGE',
      '1          web-1   Retired   60s   app:1   (first)',
      '2          web-2   Ready     60s   app:2   image',
    ]);
  });
});

describe('rolloutState', () => {
  it('is complete once the latest created revision serves', () => {
    const state = rolloutState(
      project({ observedGeneration: 2, phase: 'Running', revisions: { latestCreated: 'web-2', latestReady: 'web-2' } }),
    );
    expect(state).toEqual({ done: true, message: 'project/web: revision web-2 serves; rollout complete' });
  });

  it('waits while the new revision starts and the old one serves', () => {
    const state = rolloutState(
      project({
        observedGeneration: 2,
        phase: 'Starting',
        revisions: { latestCreated: 'web-2', latestReady: 'web-1' },
      }),
    );
    expect(state).toEqual({
      done: false,
      message: 'project/web: waiting for revision web-2 to become ready (web-1 still serves)',
    });
  });

  it('waits for the controller to see the change first', () => {
    const state = rolloutState(
      project({ observedGeneration: 1, revisions: { latestCreated: 'web-1', latestReady: 'web-1' } }),
    );
    expect(state.done).toBe(false);
    expect(state.message).toContain('latest change');
  });

  it('is complete for a project scaled to zero whose revision has not served yet', () => {
    const state = rolloutState(
      project({ observedGeneration: 2, phase: 'Idle', revisions: { latestCreated: 'web-2', latestReady: 'web-1' } }),
    );
    expect(state.done).toBe(true);
  });
});
