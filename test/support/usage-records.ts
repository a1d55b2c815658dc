import type { UsageRecord } from '../../src/usage/record.js';

// Usage records for tests: valid by default, any field overridden.

export function usageRecord(overrides: Partial<UsageRecord> = {}): UsageRecord {
  const lease = overrides.lease ?? 'l1';
  return {
    lease,
    leaseUid: `uid-${lease}`,
    project: 'web',
    startedAt: '2025-01-01T10:00:00.000Z',
    endedAt: '2025-01-01T10:05:00.000Z',
    runtimeSeconds: 300,
    cpuMillis: 250,
    memoryBytes: 256 * 2 ** 20,
    cost: 0.001988,
    currency: 'USD',
    reason: 'Expired',
    fromPool: false,
    ...overrides,
  };
}
