// One line of the usage ledger: what one lease used and cost, written once when it ended.

export const USAGE_REASONS = ['Expired', 'Released', 'Failed', 'IdleTimeout'] as const;
export type UsageReason = (typeof USAGE_REASONS)[number];

export interface UsageRecord {
  lease: string;
  /** The lease object's uid: a lease is billed once, whatever the name is reused for later. */
  leaseUid: string;
  project: string;
  /** ISO 8601 instants. */
  startedAt: string;
  endedAt: string;
  runtimeSeconds: number;
  cpuMillis: number;
  memoryBytes: number;
  cost: number;
  currency: string;
  reason: UsageReason;
  fromPool: boolean;
}

const STRING_FIELDS = ['lease', 'leaseUid', 'project', 'currency'] as const;
const INSTANT_FIELDS = ['startedAt', 'endedAt'] as const;
const AMOUNT_FIELDS = ['runtimeSeconds', 'cpuMillis', 'memoryBytes', 'cost'] as const;

/** What is wrong with `value` as a usage record, or undefined when it is one. */
export function usageRecordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const record = value as Record<string, unknown>;
  for (const field of STRING_FIELDS) {
    if (typeof record[field] !== 'string' || record[field] === '')
      return `${field}: expected a non-empty string, got ${show(record[field])}`;
  }
  for (const field of INSTANT_FIELDS) {
    const text = record[field];
    if (typeof text !== 'string' || Number.isNaN(Date.parse(text)))
      return `${field}: expected an ISO 8601 time, got ${show(text)}`;
  }
  for (const field of AMOUNT_FIELDS) {
    const amount = record[field];
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
      return `${field}: expected a number of at least 0, got ${show(amount)}`;
  }
  if (!(USAGE_REASONS as readonly unknown[]).includes(record.reason))
    return `reason: expected one of ${USAGE_REASONS.join(', ')}, got ${show(record.reason)}`;
  if (typeof record.fromPool !== 'boolean') return `fromPool: expected true or false, got ${show(record.fromPool)}`;
  return undefined;
}

/** The record's own fields only, in a fixed order, so that every line of the ledger reads alike. */
export function normaliseRecord(record: UsageRecord): UsageRecord {
  return {
    lease: record.lease,
    leaseUid: record.leaseUid,
    project: record.project,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    runtimeSeconds: record.runtimeSeconds,
    cpuMillis: record.cpuMillis,
    memoryBytes: record.memoryBytes,
    cost: record.cost,
    currency: record.currency,
    reason: record.reason,
    fromPool: record.fromPool,
  };
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
}
