import type pg from 'pg';
import type { ActivitySnapshot, ProxyManagement } from '../../proxy/management.js';
import type { OutcomeCounts } from '../../proxy/revision-outcomes.js';
import type { Logger } from '../../util/logger.js';
import { MonotonicOutcomes, sumOutcomes } from './activity-merge.js';
import { othersActivity, othersOutcomes, withdraw, writeReport, type ActivityReport } from './activity-rows.js';

// Traffic may reach a project through any controller's proxy, but only the leader decides
// when it idles, how far it scales and whether a rollout step passed. So every controller,
// leader or not, reports its own proxy's activity every interval (its heartbeat, plus the
// rows that changed since its last report), and reads back the other controllers' rows,
// which the leader's PublishingProxy adds to its own proxy's. Every controller reports,
// not only the standbys, so that a controller that takes the lead already holds what the
// previous leader's proxy saw.

export const REPORT_INTERVAL_MS = 1_000;
/** A controller silent this long has its activity ignored (it died, or lost the database). */
export const STALE_AFTER_MS = 5 * REPORT_INTERVAL_MS;

export interface ActivityExchangeOptions {
  pool: pg.Pool;
  /** This controller's identity (its election id): the key of every row it writes. */
  controller: string;
  proxy: ProxyManagement;
  logger: Logger;
  intervalMs?: number;
  staleAfterMs?: number;
}

export class ActivityExchange {
  private readonly intervalMs: number;
  private readonly staleAfterMs: number;
  private readonly ownOutcomes = new MonotonicOutcomes();
  /** What the database holds of this controller, as JSON by key: only what differs is written. */
  private readonly written = { activity: new Map<string, string>(), outcomes: new Map<string, string>() };
  private others = { activity: new Map<string, ActivitySnapshot[]>(), outcomes: {} as Record<string, OutcomeCounts> };
  private readAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> | undefined;
  private failing = false;
  private stopped = false;

  constructor(private readonly options: ActivityExchangeOptions) {
    this.intervalMs = options.intervalMs ?? REPORT_INTERVAL_MS;
    this.staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
  }

  start(): void {
    this.timer = setInterval(() => void this.exchange(), this.intervalMs);
    this.timer.unref();
    void this.exchange();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.tick;
    await withdraw(this.options.pool, this.options.controller).catch(() => undefined);
  }

  /** The other controllers' proxies' activity for `service`; none once the last read is too old to trust. */
  othersActivity(service: string): ActivitySnapshot[] {
    if (Date.now() - this.readAt > this.staleAfterMs) return [];
    return this.others.activity.get(service) ?? [];
  }

  /** Every proxy's outcome counts: this one's (`local`, kept growing across its restarts) and the others'. */
  outcomes(local: Record<string, OutcomeCounts>): Record<string, OutcomeCounts> {
    return sumOutcomes([this.ownOutcomes.totals(local), this.others.outcomes]);
  }

  /** One report and one read at a time; a tick due while one runs is skipped. */
  private exchange(): Promise<void> {
    if (this.tick || this.stopped) return this.tick ?? Promise.resolve();
    this.tick = this.report()
      .then(() => this.read())
      .then(() => this.recovered())
      .catch((error: unknown) => this.failed(error))
      .finally(() => (this.tick = undefined));
    return this.tick;
  }

  private async report(): Promise<void> {
    const services = await this.options.proxy.listServices();
    const outcomes = this.ownOutcomes.observe(await this.options.proxy.revisionOutcomes());
    const activity = new Map(services.map((info) => [info.service, info.activity] as const));
    const report: ActivityReport = {
      controller: this.options.controller,
      activity: changed(this.written.activity, activity),
      goneServices: gone(this.written.activity, activity),
      outcomes: changed(this.written.outcomes, new Map(Object.entries(outcomes))),
      goneRevisions: gone(this.written.outcomes, new Map(Object.entries(outcomes))),
    };
    await writeReport(this.options.pool, report);
    remember(this.written.activity, report.activity, report.goneServices);
    remember(this.written.outcomes, report.outcomes, report.goneRevisions);
  }

  private async read(): Promise<void> {
    const { pool, controller } = this.options;
    const [rows, outcomes] = await Promise.all([
      othersActivity(pool, controller, this.staleAfterMs),
      othersOutcomes(pool, controller),
    ]);
    const activity = new Map<string, ActivitySnapshot[]>();
    for (const { service, ...snapshot } of rows) activity.set(service, [...(activity.get(service) ?? []), snapshot]);
    this.others = { activity, outcomes: sumOutcomes(outcomes) };
    this.readAt = Date.now();
  }

  private recovered(): void {
    if (this.failing) this.options.logger.info('reporting proxy activity works again');
    this.failing = false;
  }

  private failed(error: unknown): void {
    if (!this.failing)
      this.options.logger.warn({ err: String(error) }, 'reporting proxy activity failed; retrying every interval');
    this.failing = true;
  }
}

/** The entries of `now` whose JSON differs from what was written. */
function changed<T>(written: Map<string, string>, now: Map<string, T>): Map<string, T> {
  const result = new Map<string, T>();
  for (const [key, value] of now) if (written.get(key) !== JSON.stringify(value)) result.set(key, value);
  return result;
}

function gone(written: Map<string, string>, now: Map<string, unknown>): string[] {
  return [...written.keys()].filter((key) => !now.has(key));
}

function remember<T>(written: Map<string, string>, wrote: Map<string, T>, removed: string[]): void {
  for (const [key, value] of wrote) written.set(key, JSON.stringify(value));
  for (const key of removed) written.delete(key);
}
