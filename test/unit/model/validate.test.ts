import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/model/field-path.js';
import { validateManifest } from '../../../src/model/validate.js';

// validateManifest works on plain data (an API body, for instance); positions are the
// YAML layer's business and are covered in parse.test.ts.

const project = {
  apiVersion: 'luma.dev/v1alpha1',
  kind: 'Project',
  metadata: {
    name: 'hello',
    uid: 'u-1',
    generation: 2,
    resourceVersion: '5',
    creationTimestamp: '2024-01-01T00:00:00Z',
  },
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
    const result = validateManifest({
      ...project,
      spec: { image: 'hello', hostnames: ['hello.localhost'], port: '80', scaling: { idleTimeout: '2d' } },
    });
    expect(result.object).toBeUndefined();
    expect(
      problems({
        ...project,
        spec: { image: 'hello', hostnames: ['hello.localhost'], port: '80', scaling: { idleTimeout: '2d' } },
      }),
    ).toEqual([
      'spec.port: expected integer, got string "80"',
      'spec.scaling.idleTimeout: expected a duration such as 90s, 5m or 1h30m, got "2d"',
    ]);
  });

  it('says which kinds exist', () => {
    expect(problems({ apiVersion: 'luma.dev/v1alpha1' })).toEqual([
      ': missing required field "kind" (one of Project, Image, Lease, Secret)',
    ]);
    expect(problems('Project')).toEqual([
      ': expected a mapping with apiVersion, kind, metadata and spec, got a string (not shown)',
    ]);
  });

  it('without YAML, cannot tell how a number was written', () => {
    expect(problems({ ...project, spec: { ...project.spec, env: { PORT: 8080 } } })).toEqual([
      'spec.env.PORT: expected string; quote the value ("8080")',
    ]);
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

describe('spec.securityContext.capabilities.add', () => {
  const adding = (add: unknown): unknown => ({
    ...project,
    spec: { ...project.spec, securityContext: { capabilities: { add } } },
  });

  it('accepts Linux capabilities by their Kubernetes names', () => {
    expect(problems(adding(['NET_RAW', 'SYS_PTRACE']))).toEqual([]);
    expect(validateManifest(adding(['NET_RAW'])).object?.spec).toMatchObject({
      securityContext: { capabilities: { add: ['NET_RAW'] } },
    });
  });

  it('refuses an unknown capability, saying which exist', () => {
    const [problem, ...rest] = problems(adding(['NET_RAWW']));
    expect(rest).toEqual([]);
    expect(problem).toMatch(
      /^spec\.securityContext\.capabilities\.add\[0\]: expected one of "AUDIT_CONTROL", .*"NET_RAW", .*"WAKE_ALARM", got string "NET_RAWW"$/,
    );
    // Docker's spelling with the prefix is not the manifest's.
    expect(problems(adding(['CAP_NET_RAW']))[0]).toMatch(/add\[0\]: expected one of .*got string "CAP_NET_RAW"$/);
  });

  it('refuses a capability listed twice, and a field it does not know (drop is not offered)', () => {
    expect(problems(adding(['NET_RAW', 'NET_RAW']))).toHaveLength(1);
    expect(
      problems({ ...project, spec: { ...project.spec, securityContext: { capabilities: { drop: ['ALL'] } } } })[0],
    ).toMatch(/^spec\.securityContext\.capabilities\.drop: unknown field "drop" \(allowed: add\)/);
  });

  it('lists in the schema exactly the capabilities the code knows', async () => {
    const { LINUX_CAPABILITIES } = await import('../../../src/model/capabilities.js');
    const { readFile } = await import('node:fs/promises');
    const schema = JSON.parse(
      await readFile(new URL('../../../schemas/project.schema.json', import.meta.url), 'utf8'),
    ) as {
      properties: {
        spec: {
          properties: {
            securityContext: { properties: { capabilities: { properties: { add: { items: { enum: string[] } } } } } };
          };
        };
      };
    };
    expect(schema.properties.spec.properties.securityContext.properties.capabilities.properties.add.items.enum).toEqual(
      [...LINUX_CAPABILITIES],
    );
  });
});
