import { describe, expect, it } from 'vitest';
import { declaredYaml, diffObject } from '../../../src/cli/object-diff.js';
import { makeStyle } from '../../../src/cli/style.js';
import { API_VERSION, type ProjectObject } from '../../../src/model/types.js';

function project(
  spec: Partial<ProjectObject['spec']> = {},
  extra: Partial<ProjectObject['metadata']> = {},
): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: {
      name: 'web',
      uid: 'u1',
      generation: 3,
      resourceVersion: '17',
      creationTimestamp: '2025-01-01T00:00:00Z',
      ...extra,
    },
    spec: { image: 'hello', hostnames: ['web.localhost'], ...spec },
    status: { phase: 'Running' },
  };
}

describe('diffObject', () => {
  it('is empty when what the manifest owns is the same, whatever the server-set fields and status say', () => {
    const live = project();
    const planned = {
      ...project(),
      metadata: { ...project().metadata, resourceVersion: '99', generation: 4 },
      status: { phase: 'Idle' as const },
    };
    expect(diffObject({ kind: 'Project', name: 'web', live, planned })).toBe('');
  });

  it('shows a removed env as - lines and an added field as + lines, with live and manifest headers', () => {
    const text = diffObject({
      kind: 'Project',
      name: 'web',
      live: project({ env: { GREETING: 'hi' } }),
      planned: project({ port: 3000 }),
    });
    expect(text).toContain('--- live/project/web\n+++ manifest/project/web\n');
    expect(text).toContain('-  env:\n-    GREETING: hi\n');
    expect(text).toContain('+  port: 3000\n');
    expect(text).not.toMatch(/resourceVersion|uid|status|={5}/);
  });

  it('shows a new object as all + lines from /dev/null', () => {
    const text = diffObject({ kind: 'Project', name: 'web', live: null, planned: project() });
    expect(text).toMatch(/^--- \/dev\/null\n\+\+\+ manifest\/project\/web\n@@ -0,0 \+1,\d+ @@\n/);
    expect(text.split('\n').filter((line) => line.startsWith(' '))).toEqual([]);
  });

  it('shows label changes and colours only when asked', () => {
    const text = diffObject(
      {
        kind: 'Project',
        name: 'web',
        live: project({}, { labels: { tier: 'web' } }),
        planned: project({}, { labels: { tier: 'api' } }),
      },
      makeStyle(true),
    );
    expect(text).toContain('\x1b[31m-    tier: web\x1b[39m');
    expect(text).toContain('\x1b[32m+    tier: api\x1b[39m');
  });

  it('renders what a manifest declares with sorted keys', () => {
    expect(declaredYaml(project({ port: 1 }))).toBe(
      'apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: web\nspec:\n  hostnames:\n    - web.localhost\n  image: hello\n  port: 1\n',
    );
  });
});
