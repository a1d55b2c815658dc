import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/model/field-path.js';
import { validateManifest } from '../../../src/model/validate.js';

// validateManifest works on plain data (an API body, for instance); positions are the
// YAML layer's business and are covered in parse.test.ts.

const project = {
  apiVersion: 'luma.dev/v1alpha1',
  kind: 'Project',
  metadata: { name: 'hello', uid: 'u-1', generation: 2, resourceVersion: '5', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { image: 'hello', hostnames: ['hello.localhost'] },
  status: { phase: 'Idle' },
};

function problems(value: unknown): string[] {
  return validateManifest(value).issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

describe('validateManifest', () => {
  it('returns the object without status and server-set metadata', () => {
    const result = validateManifest(project);
    expect(result.issues).toEqual([]);
    expect(result.object).toEqual({
      apiVersion: 'luma.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: 'hello', resourceVersion: '5' },
      spec: { image: 'hello', hostnames: ['hello.localhost'] },
    });
  });

  it('leaves its input alone', () => {
    const input = structuredClone(project);
    validateManifest(input);
    expect(input).toEqual(project);
  });

  it('reports issues by field path and returns no object', () => {
    const result = validateManifest({ ...project, spec: { image: 'hello', hostnames: ['hello.localhost'], port: '80', scaling: { idleTimeout: '2d' } } });
    expect(result.object).toBeUndefined();
    expect(problems({ ...project, spec: { image: 'hello', hostnames: ['hello.localhost'], port: '80', scaling: { idleTimeout: '2d' } } })).toEqual([
      'spec.port: expected integer, got string "80"',
      'spec.scaling.idleTimeout: expected a duration such as 90s, 5m or 1h30m, got "2d"',
    ]);
  });

  it('says which kinds exist', () => {
    expect(problems({ apiVersion: 'luma.dev/v1alpha1' })).toEqual([': missing required field "kind" (one of Project, Image, Lease)']);
    expect(problems('Project')).toEqual([': expected a mapping with apiVersion, kind, metadata and spec, got string "Project"']);
  });

  it('without YAML, cannot tell how a number was written', () => {
    expect(problems({ ...project, spec: { ...project.spec, env: { PORT: 8080 } } })).toEqual(['spec.env.PORT: expected string; quote the value ("8080")']);
  });
});

describe('spec.leases.maxConcurrent', () => {
  const withLeases = (leases: unknown): unknown => ({ ...project, spec: { ...project.spec, leases } });

  it('accepts a whole number of at least 1, or nothing', () => {
    expect(problems(withLeases({ maxConcurrent: 1 }))).toEqual([]);
    expect(problems(withLeases({}))).toEqual([]);
  });

  it.each([
    [{ maxConcurrent: 0 }, 'spec.leases.maxConcurrent'],
    [{ maxConcurrent: 1.5 }, 'spec.leases.maxConcurrent'],
    [{ maxConcurrent: '2' }, 'spec.leases.maxConcurrent'],
    [{ max: 2 }, 'spec.leases.max'],
  ])('refuses %j at %s', (leases, path) => {
    const found = problems(withLeases(leases));
    expect(found).toHaveLength(1);
    expect(found[0]?.startsWith(`${path}: `)).toBe(true);
  });
});
