// What the operator decides about leases and pools (operator settings, `--config`), in
// the shape the lease and pool reconcilers work with.

export interface LeasePolicy {
  /** Limits of a lease that declares none, and of pool containers of a project that declares none. */
  defaultCpuMillis: number;
  defaultMemoryBytes: number;
  /** SIGTERM to SIGKILL when a lease ends. */
  gracePeriodMs: number;
  /** Leases Active or starting at once, across all projects. */
  maxActiveLeases: number;
  /** Pool containers started at once when refilling, and the pause between two batches. */
  poolBatchSize: number;
  poolBatchSpacingMs: number;
  currency: string;
  /** The price of running with these limits for this long. */
  cost(runtimeSeconds: number, cpuMillis: number, memoryBytes: number): number;
}

/** One ended lease in the usage ledger (src/usage/ledger.ts stores them). */
export interface LeaseUsageRecord {
  lease: string;
  leaseUid: string;
  project: string;
  startedAt: string;
  endedAt: string;
  runtimeSeconds: number;
  cpuMillis: number;
  memoryBytes: number;
  cost: number;
  currency: string;
  reason: 'Expired' | 'Released' | 'Failed' | 'IdleTimeout';
  fromPool: boolean;
}

export interface UsageSink {
  /** False when this lease was already recorded: a record is never written twice. */
  append(record: LeaseUsageRecord): Promise<boolean>;
}
