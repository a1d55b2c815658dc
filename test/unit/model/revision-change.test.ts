import { describe, expect, it } from 'vitest';
import { revisionChange } from '../../../src/model/revision-change.js';
import { API_VERSION, type ProjectObject, type ProjectSpec } from '../../../src/model/types.js';

// What `luma diff` and the watched directory say a project change does to its revisions.

function project(spec: Partial<ProjectSpec>, latestCreated?: string): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web' },
    spec: { image: 'web', hostnames: ['web.localhost'], ...spec },
    ...(latestCreated ? { status: { revisions: { latestCreated, latestReady: latestCreated } } } : {}),
  };
}

const ROLLOUT = {
  steps: [
    { percent: 10, durationSeconds: 30 },
    { percent: 50, durationSeconds: 60 },
  ],
};

describe('revisionChange', () => {
  it('a change to what runs makes revision N+1, rolled out as declared', () => {
    const live = project({ env: { WHO: 'one' }, rollout: ROLLOUT }, 'web-3');
    expect(revisionChange(live, project({ env: { WHO: 'two' }, rollout: ROLLOUT }))).toBe(
      'will make revision web-4 and roll it out: 10 % for 30s, 50 % for 60s, then all traffic (web-3 keeps serving the rest; not a replacement)',
    );
    expect(revisionChange(live, project({ env: { WHO: 'two' } }))).toBe(
      'will make revision web-4 and roll out to it: web-3 keeps serving until it is ready, then it takes all traffic (not a replacement)',
    );
    const split = project({ env: { WHO: 'two' }, traffic: [{ latestRevision: true, percent: 100 }] });
    expect(revisionChange(live, split)).toContain('will make revision web-4; traffic splits as spec.traffic says');
  });

  it('a change that only routes or scales, a new project, or a status without revisions', () => {
    const live = project({ env: { WHO: 'one' } }, 'web-3');
    expect(revisionChange(live, project({ env: { WHO: 'one' }, hostnames: ['other.localhost'] }))).toBeUndefined();
    expect(revisionChange(null, project({ env: { WHO: 'two' } }))).toBeUndefined();
    expect(revisionChange(project({ env: { WHO: 'one' } }), project({ env: { WHO: 'two' } }))).toContain(
      'will make a new revision',
    );
  });
});
