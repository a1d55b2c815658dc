import { describe, expect, it } from 'vitest';
import { summariseUsage } from '../../../src/usage/summary.js';
import { usageRecord } from '../../support/usage-records.js';

describe('summariseUsage', () => {
  it('lists leases by start, sums per project and in total', () => {
    const records = [
      usageRecord({
        lease: 'b',
        project: 'web',
        startedAt: '2025-01-01T11:00:00.000Z',
        runtimeSeconds: 600,
        cpuMillis: 1000,
        memoryBytes: 2 ** 30,
        cost: 0.0159,
      }),
      usageRecord({ lease: 'a', project: 'web', runtimeSeconds: 300, cost: 0.001988 }),
      usageRecord({
        lease: 'c',
        project: 'api',
        runtimeSeconds: 60.5,
        cpuMillis: 500,
        memoryBytes: 512 * 2 ** 20,
        cost: 0.1,
      }),
    ];
    const summary = summariseUsage(records);
    expect(summary.leases.map((record) => record.lease)).toEqual(['a', 'c', 'b']);
    expect(summary.projects).toEqual([
      {
        project: 'api',
        currency: 'USD',
        leases: 1,
        runtimeSeconds: 60.5,
        vcpuSeconds: 30.25,
        gibSeconds: 30.25,
        cost: 0.1,
      },
      {
        project: 'web',
        currency: 'USD',
        leases: 2,
        runtimeSeconds: 900,
        vcpuSeconds: 675,
        gibSeconds: 675,
        cost: 0.017888,
      },
    ]);
    expect(summary.totals).toEqual([
      { currency: 'USD', leases: 3, runtimeSeconds: 960.5, vcpuSeconds: 705.25, gibSeconds: 705.25, cost: 0.117888 },
    ]);
  });

  it('never adds different currencies together', () => {
    const summary = summariseUsage([
      usageRecord({ lease: 'a', cost: 1 }),
      usageRecord({ lease: 'b', cost: 2, currency: 'EUR' }),
    ]);
    expect(summary.projects.map((row) => [row.project, row.currency, row.cost])).toEqual([
      ['web', 'EUR', 2],
      ['web', 'USD', 1],
    ]);
    expect(summary.totals.map((row) => [row.currency, row.cost])).toEqual([
      ['EUR', 2],
      ['USD', 1],
    ]);
  });

  it('is empty for no records', () => {
    expect(summariseUsage([])).toEqual({ leases: [], projects: [], totals: [] });
  });

  it('does not reorder the records it is given', () => {
    const records = [usageRecord({ lease: 'b', startedAt: '2025-01-02T00:00:00.000Z' }), usageRecord({ lease: 'a' })];
    summariseUsage(records);
    expect(records.map((record) => record.lease)).toEqual(['b', 'a']);
  });
});
