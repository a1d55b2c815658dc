import { sumCosts } from './cost.js';
import type { UsageRecord } from './record.js';

// Usage per lease, per project and in total, as `luma get usage` and
// GET /api/v1alpha1/usage show it. Amounts in different currencies (after the operator
// changed prices.currency) are never added together: projects and totals have one row
// per currency, which in the usual case is a single one.

export interface UsageSums {
  currency: string;
  leases: number;
  runtimeSeconds: number;
  /** Cores × seconds and GiB × seconds: what the prices multiply. */
  vcpuSeconds: number;
  gibSeconds: number;
  cost: number;
}

export interface ProjectUsage extends UsageSums {
  project: string;
}

export interface UsageSummary {
  /** Every record, oldest start first. */
  leases: UsageRecord[];
  /** By project name, then currency. */
  projects: ProjectUsage[];
  /** One per currency; empty when nothing was recorded. */
  totals: UsageSums[];
}

const GIB = 2 ** 30;

/** Sums kept in integer units (milliseconds, millionths) so that adding many records never drifts. */
class Accumulator {
  private leases = 0;
  private runtimeMs = 0;
  private vcpuMilliSeconds = 0;
  private gibMilliSeconds = 0;
  private readonly costs: number[] = [];

  add(record: UsageRecord): void {
    this.leases += 1;
    this.runtimeMs += Math.round(record.runtimeSeconds * 1000);
    this.vcpuMilliSeconds += Math.round((record.cpuMillis / 1000) * record.runtimeSeconds * 1000);
    this.gibMilliSeconds += Math.round((record.memoryBytes / GIB) * record.runtimeSeconds * 1000);
    this.costs.push(record.cost);
  }

  sums(currency: string): UsageSums {
    return {
      currency,
      leases: this.leases,
      runtimeSeconds: this.runtimeMs / 1000,
      vcpuSeconds: this.vcpuMilliSeconds / 1000,
      gibSeconds: this.gibMilliSeconds / 1000,
      cost: sumCosts(this.costs),
    };
  }
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function summariseUsage(records: readonly UsageRecord[]): UsageSummary {
  const leases = [...records].sort(
    (a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || byText(a.lease, b.lease),
  );
  const projects = new Map<string, { project: string; currency: string; sums: Accumulator }>();
  const totals = new Map<string, Accumulator>();
  for (const record of leases) {
    const key = JSON.stringify([record.project, record.currency]);
    let entry = projects.get(key);
    if (!entry)
      projects.set(key, (entry = { project: record.project, currency: record.currency, sums: new Accumulator() }));
    entry.sums.add(record);
    let total = totals.get(record.currency);
    if (!total) totals.set(record.currency, (total = new Accumulator()));
    total.add(record);
  }
  return {
    leases,
    projects: [...projects.values()]
      .map(({ project, currency, sums }) => ({ project, ...sums.sums(currency) }))
      .sort((a, b) => byText(a.project, b.project) || byText(a.currency, b.currency)),
    totals: [...totals.entries()]
      .map(([currency, sums]) => sums.sums(currency))
      .sort((a, b) => byText(a.currency, b.currency)),
  };
}
