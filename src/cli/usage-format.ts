import { stringify } from 'yaml';
import { formatCpu, formatDuration, formatMemory } from '../model/quantities.js';
import type { UsageRecord } from '../usage/record.js';
import type { UsageSummary, UsageSums } from '../usage/summary.js';
import { table, type OutputFormat } from './format.js';

// What `luma get usage` prints: a table of leases, then one of projects ending in the
// totals; or the API's summary as JSON or YAML.

/** `0.001988 USD`, `12.50 USD`: every significant digit of a cost (six at most), and at least cents. */
export function formatCost(amount: number, currency: string): string {
  const digits = amount.toFixed(6).replace(/0+$/, '');
  const [whole = '0', fraction = ''] = digits.split('.');
  return `${whole}.${fraction.padEnd(2, '0')} ${currency}`;
}

/** Whole seconds: a bill reads `5m12s`, not `5m12s345ms`. */
export function formatRuntime(seconds: number): string {
  return formatDuration(Math.round(seconds) * 1000);
}

/** `2025-01-01T10:00:00Z`: to the second. */
function formatInstant(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function formatAmount(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

function leaseRow(record: UsageRecord, wide: boolean): string[] {
  const base = [
    record.lease,
    record.project,
    formatInstant(record.startedAt),
    formatRuntime(record.runtimeSeconds),
    formatCpu(record.cpuMillis),
    formatMemory(record.memoryBytes),
    record.reason,
  ];
  const cost = formatCost(record.cost, record.currency);
  return wide
    ? [...base, formatInstant(record.endedAt), record.fromPool ? 'yes' : 'no', record.leaseUid, cost]
    : [...base, cost];
}

function sumsRow(label: string, sums: UsageSums): string[] {
  return [
    label,
    String(sums.leases),
    formatRuntime(sums.runtimeSeconds),
    formatAmount(sums.vcpuSeconds),
    formatAmount(sums.gibSeconds),
    formatCost(sums.cost, sums.currency),
  ];
}

export function formatUsage(summary: UsageSummary, format: Exclude<OutputFormat, 'name'>): string {
  switch (format) {
    case 'json':
      return JSON.stringify(summary, null, 2) + '\n';
    case 'yaml':
      return stringify(summary);
    case 'table':
    case 'wide': {
      const wide = format === 'wide';
      const leaseHeader = [
        'LEASE',
        'PROJECT',
        'STARTED',
        'RUNTIME',
        'CPU',
        'MEMORY',
        'REASON',
        ...(wide ? ['ENDED', 'FROM-POOL', 'UID'] : []),
        'COST',
      ];
      const leases = table([leaseHeader, ...summary.leases.map((record) => leaseRow(record, wide))]);
      const projects = table([
        ['PROJECT', 'LEASES', 'RUNTIME', 'VCPU-SECONDS', 'GIB-SECONDS', 'COST'],
        ...summary.projects.map((project) => sumsRow(project.project, project)),
        ...summary.totals.map((total) => sumsRow('TOTAL', total)),
      ]);
      return `${leases}\n${projects}`;
    }
  }
}
