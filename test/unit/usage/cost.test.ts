import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { estimatedLeaseCost, leaseCost, roundCost, runtimeSecondsBetween, sumCosts } from '../../../src/usage/cost.js';

const GIB = 2 ** 30;

describe('leaseCost', () => {
  it('is (cores × vCPU-second price + GiB × GiB-second price) × seconds', () => {
    // 1 core and 1 GiB for an hour at the default prices: 3600 × (0.000024 + 0.0000025)
    expect(leaseCost(3_600, 1_000, GIB, DEFAULT_SETTINGS.prices)).toBe(0.0954);
    expect(leaseCost(60, 2_000, 0, { perVcpuSecond: 1, perGibSecond: 1 })).toBe(120);
    expect(leaseCost(60, 0, 2 * GIB, { perVcpuSecond: 1, perGibSecond: 1 })).toBe(120);
  });

  it('bills a 5-minute 250m / 256Mi lease a fraction of a cent, to six decimals', () => {
    // 300 × (0.25 × 0.000024 + 0.25 × 0.0000025) = 0.0019875 → 0.001988 (half away from zero)
    expect(leaseCost(300, 250, 256 * 2 ** 20, DEFAULT_SETTINGS.prices)).toBe(0.001988);
  });

  it('is 0 for no runtime, and refuses negative or non-finite input', () => {
    expect(leaseCost(0, 2_000, GIB, DEFAULT_SETTINGS.prices)).toBe(0);
    expect(() => leaseCost(-1, 250, GIB, DEFAULT_SETTINGS.prices)).toThrow(
      'runtimeSeconds must be a finite number of at least 0, got -1',
    );
    expect(() => leaseCost(1, Number.NaN, GIB, DEFAULT_SETTINGS.prices)).toThrow('cpuMillis');
    expect(() => leaseCost(1, 250, GIB, { perVcpuSecond: Number.POSITIVE_INFINITY, perGibSecond: 0 })).toThrow(
      'perVcpuSecond',
    );
  });
});

describe('roundCost and sumCosts', () => {
  it('round to millionths and add without drifting', () => {
    expect(roundCost(0.0000004)).toBe(0);
    expect(roundCost(0.0000005)).toBe(0.000001);
    expect(sumCosts([0.1, 0.2])).toBe(0.3);
    expect(sumCosts(Array.from({ length: 1000 }, () => 0.000001))).toBe(0.001);
    expect(sumCosts([])).toBe(0);
  });
});

describe('runtimeSecondsBetween', () => {
  it('counts milliseconds and never goes negative', () => {
    expect(runtimeSecondsBetween(new Date('2025-01-01T10:00:00.000Z'), new Date('2025-01-01T10:05:00.250Z'))).toBe(
      300.25,
    );
    expect(runtimeSecondsBetween(new Date('2025-01-01T10:00:00.000Z'), new Date('2025-01-01T09:00:00.000Z'))).toBe(0);
  });
});

describe('estimatedLeaseCost', () => {
  it("prices the whole ttl with the lease's resources, or the operator's defaults", () => {
    expect(estimatedLeaseCost({ project: 'web', ttl: '5m' }, DEFAULT_SETTINGS)).toBe(0.001988);
    expect(
      estimatedLeaseCost({ project: 'web', ttl: '1h', resources: { cpu: '1', memory: '1Gi' } }, DEFAULT_SETTINGS),
    ).toBe(0.0954);
  });
});
