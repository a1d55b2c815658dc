import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/model/field-path.js';
import { LIMITS, semanticIssues } from '../../../src/model/semantic-checks.js';

// Range and cross-field rules, on plain data. parse.test.ts checks the same rules with
// positions; here the concern is what is checked and what is left to the schema.

function problems(
  spec: Record<string, unknown>,
  kind: 'Project' | 'Lease' = 'Project',
  already: string[][] = [],
): string[] {
  return semanticIssues(kind, { spec }, already).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

describe('semanticIssues', () => {
  it('states its limits in plain numbers', () => {
    expect(LIMITS).toEqual({
      idleTimeoutMs: { min: 1_000, max: 86_400_000 },
      startupTimeoutMs: { min: 1_000, max: 600_000 },
      requestTimeoutMs: { min: 1_000, max: 3_600_000 },
      cpuMillis: { min: 10, max: 64_000 },
      memoryBytes: { min: 6 * 2 ** 20, max: 2 ** 40 },
    });
  });

  it('accepts values on the limits', () => {
    expect(
      problems({
        scaling: { idleTimeout: '1s' },
        readiness: { startupTimeout: '10m' },
        resources: { cpu: '10m', memory: '1Ti' },
      }),
    ).toEqual([]);
    expect(
      problems({ scaling: { idleTimeout: '24h', pauseAfter: '23h59m' }, resources: { cpu: '64', memory: '6Mi' } }),
    ).toEqual([]);
  });

  it('leaves fields the schema already reported alone', () => {
    const spec = { scaling: { idleTimeout: 'soon', minInstances: 5, maxInstances: 1 } };
    expect(
      problems(spec, 'Project', [
        ['spec', 'scaling', 'idleTimeout'],
        ['spec', 'scaling', 'minInstances'],
      ]),
    ).toEqual([]);
  });

  it('still reports a quantity the schema let through', () => {
    expect(problems({ scaling: { idleTimeout: 'soon' } })).toEqual([
      'spec.scaling.idleTimeout: expected a duration such as 90s, 5m or 1h30m, got "soon"',
    ]);
  });

  it("ignores values of the wrong type, which are the schema's to report", () => {
    expect(problems({ scaling: { idleTimeout: 60, minInstances: '3', maxInstances: 1 } })).toEqual([]);
  });

  it('compares pauseAfter with a declared idleTimeout only', () => {
    expect(problems({ scaling: { pauseAfter: '10m' } })).toEqual([]);
    expect(problems({ scaling: { idleTimeout: '5m', pauseAfter: '10m' } })).toEqual([
      'spec.scaling.pauseAfter: expected a duration shorter than idleTimeout (5m), got "10m"',
    ]);
  });

  it('checks a Lease', () => {
    expect(problems({ ttl: '0ms', idleTimeout: '2d', resources: { cpu: '100' } }, 'Lease')).toEqual([
      'spec.ttl: expected a duration greater than 0, got "0ms"',
      'spec.idleTimeout: expected a duration such as 90s, 5m or 1h30m, got "2d"',
      'spec.resources.cpu: expected a CPU quantity between 10m and 64, got "100"',
    ]);
  });
});
