import type { LeasePolicy, UsageSink } from '../../../src/controller/lease-policy.js';
import type { UsageRecord } from '../../../src/usage/record.js';

// The usage ledger and the operator's lease settings as the pool and lease tables use
// them: a ledger in memory that, like the real one, appends each lease's bill once.

const MiB = 1024 ** 2;

export class FakeLedger implements UsageSink {
  readonly records: UsageRecord[] = [];
  async append(record: UsageRecord): Promise<boolean> {
    if (this.records.some((existing) => existing.leaseUid === record.leaseUid)) return false;
    this.records.push(record);
    return true;
  }
}

/** Small batches close together, so a test sees a pool fill in two rounds. */
export const TEST_LEASE_POLICY: LeasePolicy = {
  leaseDefaults: { cpuMillis: 250, memoryBytes: 256 * MiB },
  leaseGracePeriodMs: 5_000,
  maxActiveLeases: 10,
  poolBatchSize: 2,
  poolBatchSpacingMs: 1_000,
  prices: { perVcpuSecond: 0.001, perGibSecond: 0.0001, currency: 'USD' },
};
