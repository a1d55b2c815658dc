import { describe, expect, it } from 'vitest';
import { leaseResources } from '../../../src/model/lease-resources.js';
import type { LeaseSpec } from '../../../src/model/types.js';

const DEFAULTS = { leaseDefaults: { cpuMillis: 250, memoryBytes: 256 * 2 ** 20 } };

function spec(extra: Partial<LeaseSpec> = {}): LeaseSpec {
  return { project: 'web', ttl: '30m', ...extra };
}

describe('leaseResources', () => {
  it("fills in the operator's defaults", () => {
    expect(leaseResources(spec(), DEFAULTS)).toEqual({ ttlMs: 1_800_000, cpuMillis: 250, memoryBytes: 256 * 2 ** 20 });
    expect(leaseResources(spec({ resources: { cpu: '1.5' } }), DEFAULTS)).toEqual({
      ttlMs: 1_800_000,
      cpuMillis: 1_500,
      memoryBytes: 256 * 2 ** 20,
    });
  });

  it('reads declared resources as numbers', () => {
    expect(leaseResources(spec({ ttl: '5m', resources: { cpu: '500m', memory: '1Gi' } }), DEFAULTS)).toEqual({
      ttlMs: 300_000,
      cpuMillis: 500,
      memoryBytes: 2 ** 30,
    });
  });
});
