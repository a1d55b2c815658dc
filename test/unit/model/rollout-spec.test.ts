import { describe, expect, it } from 'vitest';
import { ManifestError, formatIssue, parseManifests } from '../../../src/model/parse.js';

// spec.rollout: the steps and limits of a progressive rollout, refused with the
// file:line:column of the field at fault.

const FILE = 'app.yaml';

/** A valid Project; spec lines (indented by two) are appended from line 8 on. */
function project(...specLines: string[]): string {
  const head = ['apiVersion: luma.dev/v1alpha1', 'kind: Project', 'metadata:', '  name: hello', 'spec:'];
  return `${[...head, '  image: hello', '  hostnames: [hello.localhost]', ...specLines].join('\n')}\n`;
}

function errorsOf(source: string): string[] {
  try {
    parseManifests(source, FILE);
  } catch (error) {
    if (error instanceof ManifestError) return error.issues.map(formatIssue);
    throw error;
  }
  throw new Error('expected the manifest to be refused');
}

describe('spec.rollout', () => {
  it('takes steps and limits', () => {
    const [doc] = parseManifests(
      project(
        '  rollout:',
        '    steps: [{ percent: 10, durationSeconds: 30 }, { percent: 50, durationSeconds: 60 }]',
        '    limits: { maxErrorRate: 0.05, maxLatencyP99Ms: 800, minRequests: 20 }',
      ),
      FILE,
    );
    expect(doc?.object.spec).toMatchObject({
      rollout: {
        steps: [
          { percent: 10, durationSeconds: 30 },
          { percent: 50, durationSeconds: 60 },
        ],
        limits: { maxErrorRate: 0.05, maxLatencyP99Ms: 800, minRequests: 20 },
      },
    });
  });

  it.each([
    [['  rollout: {}'], 'app.yaml:8:12: spec.rollout: missing required field "steps"'],
    [['  rollout:', '    steps: []'], 'app.yaml:9:12: spec.rollout.steps: expected at least 1 entry, got none'],
    [
      ['  rollout:', '    steps: [{ percent: 100, durationSeconds: 30 }]'],
      'app.yaml:9:24: spec.rollout.steps[0].percent: expected an integer between 1 and 99, got 100',
    ],
    [
      ['  rollout:', '    steps: [{ percent: 10 }]'],
      'app.yaml:9:13: spec.rollout.steps[0]: missing required field "durationSeconds"',
    ],
    [
      ['  rollout:', '    steps: [{ percent: 10, durationSeconds: 30 }]', '    limits: { maxErrorRate: 5 }'],
      'app.yaml:10:29: spec.rollout.limits.maxErrorRate: expected a number between 0 and 1, got 5',
    ],
    [
      [
        '  rollout:',
        '    steps:',
        '      - { percent: 50, durationSeconds: 30 }',
        '      - { percent: 20, durationSeconds: 30 }',
      ],
      'app.yaml:11:20: spec.rollout.steps[1].percent: expected more than the step before (50), got 20',
    ],
  ])('refuses %j', (lines, message) => {
    expect(errorsOf(project(...lines))).toEqual([message]);
  });
});
