import { describe as suite, expect, it } from 'vitest';
import { describe } from '../../../src/cli/format.js';
import { API_VERSION, type ProjectObject } from '../../../src/model/types.js';

// `luma describe project` shows a rollout under way besides the split: step k of n, the
// candidate's share, since when, and the limits it is judged by.

const NOW = Date.parse('2026-12-07T12:01:00Z');

const PROJECT: ProjectObject = {
  apiVersion: API_VERSION,
  kind: 'Project',
  metadata: { name: 'web', uid: 'u1', generation: 2 },
  spec: {
    image: 'web',
    hostnames: ['web.localhost'],
    rollout: {
      steps: [
        { percent: 10, durationSeconds: 300 },
        { percent: 50, durationSeconds: 300 },
      ],
      limits: { maxErrorRate: 0.05, maxLatencyP99Ms: 500, minRequests: 20 },
    },
  },
  status: {
    observedGeneration: 2,
    traffic: [
      { revisionName: 'web-1', percent: 90 },
      { revisionName: 'web-2', percent: 10 },
    ],
    rollout: {
      phase: 'Progressing',
      stable: 'web-1',
      candidate: 'web-2',
      step: 0,
      stepStartedAt: '2026-12-07T12:00:00.000Z',
      message: 'step 1 of 2: web-2 gets 10 %',
    },
  },
};

suite('describe project with a rollout', () => {
  it('shows the step, the share, since when and the limits', () => {
    const text = describe(PROJECT, [], undefined, NOW);
    const block = text.slice(text.indexOf('Rollout:'), text.indexOf('Conditions:')).trimEnd().split('\n');
    expect(block).toEqual([
      'Rollout:',
      '  Phase:      Progressing',
      '  Revisions:  web-2 (stable web-1)',
      '  Step:       1 of 2, web-2 gets 10 %',
      '  Since:      2026-12-07T12:00:00.000Z (60s ago)',
      '  Limits:     maxErrorRate 0.05, maxLatencyP99Ms 500 ms, minRequests 20',
      '  Message:    step 1 of 2: web-2 gets 10 %',
    ]);
    expect(text).toMatch(/Traffic:\n {2}REVISION\s+PERCENT/);
  });

  it('a project without a rollout shows none', () => {
    const { rollout: _rollout, ...status } = PROJECT.status!;
    expect(describe({ ...PROJECT, status }, [], undefined, NOW)).not.toContain('Rollout:');
  });
});
