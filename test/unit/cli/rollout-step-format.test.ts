import { describe, expect, it } from 'vitest';
import { judge } from '../../../src/cli/readiness.js';
import { rolloutState } from '../../../src/cli/rollout-format.js';
import { API_VERSION, type ProjectObject, type RolloutStatus } from '../../../src/model/types.js';

// `luma rollout status` shows the step of a progressive rollout, and `apply --wait`
// waits for the rollout (and fails on its rollback).

function project(rollout: RolloutStatus, conditionStatus: 'True' | 'False' | 'Unknown'): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web', generation: 2 },
    spec: {
      image: 'web',
      hostnames: ['web.localhost'],
      rollout: {
        steps: [
          { percent: 10, durationSeconds: 30 },
          { percent: 50, durationSeconds: 30 },
        ],
      },
    },
    status: {
      observedGeneration: 2,
      revisions: { latestCreated: 'web-2', latestReady: 'web-2' },
      traffic: [
        { revisionName: 'web-1', percent: 50 },
        { revisionName: 'web-2', percent: 50 },
      ],
      rollout,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Running', message: '', lastTransitionTime: '' },
        {
          type: 'Rollout',
          status: conditionStatus,
          reason: rollout.phase,
          message: rollout.message ?? '',
          lastTransitionTime: '',
        },
      ],
    },
  };
}

const STEP2: RolloutStatus = {
  phase: 'Progressing',
  stable: 'web-1',
  candidate: 'web-2',
  step: 1,
  stepStartedAt: '2026-12-07T12:00:00Z',
};
const READY = { type: 'condition', condition: 'Ready', status: 'True' } as const;

describe('rollout status and apply --wait during a progressive rollout', () => {
  it('shows the step and the split, and is not done', () => {
    expect(rolloutState(project(STEP2, 'Unknown'))).toEqual({
      done: false,
      message: 'project/web: step 2 of 2, web-2 gets 50 % (web-1 the rest)',
    });
    expect(judge(project(STEP2, 'Unknown'), READY, 'project/web')).toMatchObject({ outcome: 'waiting' });
  });

  it('says paused', () => {
    const paused = project({ ...STEP2, phase: 'Paused' }, 'Unknown');
    expect(rolloutState(paused).message).toBe('project/web: paused at step 2 of 2, web-2 gets 50 % (web-1 the rest)');
  });

  it('fails on a rollback, naming the limit', () => {
    const message =
      'web-2 maxErrorRate passed: 5xx rate 0.4 > 0.1 over 20 requests at step 1; all traffic back to web-1';
    const rolledBack = project({ ...STEP2, phase: 'RolledBack', message }, 'False');
    expect(rolloutState(rolledBack)).toMatchObject({ done: false, failed: true });
    expect(judge(rolledBack, READY, 'project/web')).toEqual({
      outcome: 'failed',
      message: `project/web rolled back: ${message}`,
    });
  });

  it('is done once the rollout succeeded', () => {
    const done = project({ ...STEP2, phase: 'Succeeded' }, 'True');
    expect(rolloutState(done).done).toBe(true);
    expect(judge(done, READY, 'project/web')).toMatchObject({ outcome: 'done' });
  });
});
