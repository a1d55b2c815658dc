import type { OperatorSettings } from '../config/settings.js';
import type { UsageRecord } from '../usage/record.js';

// What the operator decides about leases and pools (operator settings, `--config`): the
// part of them the lease and pool reconcilers read.

export type LeasePolicy = Pick<
  OperatorSettings,
  | 'leaseDefaults'
  | 'leaseGracePeriodMs'
  | 'maxActiveLeases'
  | 'poolBatchSize'
  | 'poolBatchSpacingMs'
  | 'prices'
  | 'imageAllowlist'
>;

/** Where ended leases' bills go (the usage ledger). */
export interface UsageSink {
  /** False when this lease was already recorded: a record is never written twice. */
  append(record: UsageRecord): Promise<boolean>;
}
