import { describe, expect, it } from 'vitest';
import { formatCost, formatRuntime, formatUsage } from '../../../src/cli/usage-format.js';
import { summariseUsage } from '../../../src/usage/summary.js';
import { usageRecord } from '../../support/usage-records.js';

describe('formatCost', () => {
  it.each([
    [0.001988, 'USD', '0.001988 USD'],
    [12.5, 'EUR', '12.50 EUR'],
    [3, 'USD', '3.00 USD'],
    [0, 'USD', '0.00 USD'],
    [0.1, 'USD', '0.10 USD'],
    [1234.000001, 'USD', '1234.000001 USD'],
  ])('%d %s → %s', (amount, currency, text) => {
    expect(formatCost(amount, currency)).toBe(text);
  });
});

describe('formatRuntime', () => {
  it('shows whole seconds', () => {
    expect(formatRuntime(300.4)).toBe('5m');
    expect(formatRuntime(3_725.6)).toBe('1h2m6s');
    expect(formatRuntime(0)).toBe('0s');
  });
});

describe('formatUsage', () => {
  const summary = summariseUsage([
    usageRecord({ lease: 'a', project: 'web' }),
    usageRecord({
      lease: 'b',
      project: 'api',
      startedAt: '2025-01-01T11:00:00.000Z',
      endedAt: '2025-01-01T11:10:00.000Z',
      runtimeSeconds: 600,
      cpuMillis: 1000,
      memoryBytes: 2 ** 30,
      cost: 0.0159,
      reason: 'Released',
      fromPool: true,
    }),
  ]);

  it('prints a table of leases, then projects and the total', () => {
    expect(formatUsage(summary, 'table')).toBe(
      [
        'LEASE   PROJECT   STARTED                RUNTIME   CPU    MEMORY   REASON     COST',
        'a       web       2025-01-01T10:00:00Z   5m        250m   256Mi    Expired    0.001988 USD',
        'b       api       2025-01-01T11:00:00Z   10m       1      1Gi      Released   0.0159 USD',
        '',
        'PROJECT   LEASES   RUNTIME   VCPU-SECONDS   GIB-SECONDS   COST',
        'api       1        10m       600            600           0.0159 USD',
        'web       1        5m        75             75            0.001988 USD',
        'TOTAL     2        15m       675            675           0.017888 USD',
        '',
      ].join('\n'),
    );
  });

  it('adds the end, the pool and the uid in wide output', () => {
    const [header, first] = formatUsage(summary, 'wide').split('\n');
    expect(header?.split(/\s+/)).toEqual([
      'LEASE',
      'PROJECT',
      'STARTED',
      'RUNTIME',
      'CPU',
      'MEMORY',
      'REASON',
      'ENDED',
      'FROM-POOL',
      'UID',
      'COST',
    ]);
    expect(first).toContain('2025-01-01T10:05:00Z   no          uid-a');
  });

  it('prints the summary itself as JSON or YAML', () => {
    expect(JSON.parse(formatUsage(summary, 'json'))).toEqual(summary);
    expect(formatUsage(summary, 'yaml')).toContain('totals:\n  - currency: USD\n    leases: 2\n');
  });
});
