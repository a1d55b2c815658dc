import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { COLD_START_BUCKETS, QUEUE_WAIT_BUCKETS, REQUEST_BUCKETS, serviceLabel, statusClass } from './registry.js';
import { TalliedMetrics, type TalliedSeries } from './tallied-series.js';

// What the edge proxy tells Prometheus. The proxy calls this interface from a handful of
// points and knows nothing of prom-client; tests and a proxy without metrics use
// NO_PROXY_METRICS. requestFinished() runs for every request: its two series are tallied
// series (tallied-series.ts), kept per project and status class, so a request only adds
// to numbers; the rare events go through prom-client.

const ZEROED_STATUSES = [200, 300, 400, 500];
/** Where a status's class is in a project's list of series: 0 for `other`, 1–5 for `1xx`–`5xx`. */
function classIndex(statusCode: number): number {
  return statusCode < 100 || statusCode > 599 ? 0 : Math.floor(statusCode / 100);
}

export interface ProxyMetrics {
  /**
   * A service was deployed: its counters start at zero (once), so a first request's
   * increase shows in rate(). Its histograms appear with their first observation: a
   * thousand idle projects would otherwise print 90 zero lines each.
   */
  serviceDeployed(service: string): void;
  /** A service was removed: its series go. */
  serviceRemoved(service: string): void;
  /**
   * A request routed to a service got its answer (or an error answer from the proxy).
   * `revision`: the project's revision that served it, a `revision` label of its series.
   */
  requestFinished(service: string, statusCode: number, seconds: number, revision?: string): void;
  /** A request found no live target and is held while the service wakes. */
  requestHeld(service: string): void;
  /** A held request got a target after waiting this long. */
  heldRequestRouted(service: string, seconds: number): void;
  /** A held request's answer began (its first byte left for the client) this long after it was held. */
  heldRequestFirstByte(service: string, seconds: number): void;
  /** A held request gave up after the service's startupTimeout (503). */
  wakeTimedOut(service: string): void;
  /** Requests now waiting for a slot (held or queued) changed to `length`. */
  queueLength(service: string, length: number): void;
  /** A request queued behind instances at maxConcurrency got a slot after waiting this long. */
  queuedRequestRouted(service: string, seconds: number): void;
  /** A request found the queue full and was answered 429. */
  queueRejected(service: string): void;
}

export const NO_PROXY_METRICS: ProxyMetrics = {
  serviceDeployed: () => undefined,
  serviceRemoved: () => undefined,
  requestFinished: () => undefined,
  requestHeld: () => undefined,
  heldRequestRouted: () => undefined,
  heldRequestFirstByte: () => undefined,
  wakeTimedOut: () => undefined,
  queueLength: () => undefined,
  queuedRequestRouted: () => undefined,
  queueRejected: () => undefined,
};

export class PrometheusProxyMetrics implements ProxyMetrics {
  /** luma_proxy_requests_total and luma_proxy_request_duration_seconds. */
  private readonly requests: TalliedMetrics;
  /** Each project's (and revision's: `project\0revision`) request series, by classIndex(). */
  private readonly requestSeries = new Map<string, (TalliedSeries | undefined)[]>();
  private readonly held: Counter<'project'>;
  private readonly holdWait: Histogram<'project'>;
  private readonly heldFirstByte: Histogram<'project'>;
  private readonly wakeTimeouts: Counter<'project'>;
  private readonly queued: Gauge<'project'>;
  private readonly queueWait: Histogram<'project'>;
  private readonly queueRejections: Counter<'project'>;
  private readonly deployed = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new TalliedMetrics(registry, {
      counter: {
        name: 'luma_proxy_requests_total',
        help: 'Requests the proxy routed to a project, by status class of the answer.',
      },
      histogram: {
        name: 'luma_proxy_request_duration_seconds',
        help: 'Time from a request reaching the proxy to its answer ending, hold included.',
        buckets: REQUEST_BUCKETS,
      },
    });
    this.held = new Counter({
      name: 'luma_proxy_held_requests_total',
      help: 'Requests held because their project had no live instance.',
      labelNames: ['project'],
      registers,
    });
    this.holdWait = new Histogram({
      name: 'luma_proxy_hold_duration_seconds',
      help: 'How long a held request waited for a live instance.',
      labelNames: ['project'],
      buckets: COLD_START_BUCKETS,
      registers,
    });
    this.heldFirstByte = new Histogram({
      name: 'luma_proxy_cold_start_first_byte_seconds',
      help: 'From holding a request to the first byte of its answer: the cold start as the caller saw it.',
      labelNames: ['project'],
      buckets: COLD_START_BUCKETS,
      registers,
    });
    this.wakeTimeouts = new Counter({
      name: 'luma_proxy_wake_timeouts_total',
      help: 'Held requests answered 503 because no instance was ready within startupTimeout.',
      labelNames: ['project'],
      registers,
    });
    this.queued = new Gauge({
      name: 'luma_proxy_queue_length',
      help: 'Requests waiting for a free slot now: held for a cold start or queued behind instances at maxConcurrency.',
      labelNames: ['project'],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'luma_proxy_queue_wait_seconds',
      help: 'How long a request queued behind instances at maxConcurrency waited for a slot.',
      labelNames: ['project'],
      buckets: QUEUE_WAIT_BUCKETS,
      registers,
    });
    this.queueRejections = new Counter({
      name: 'luma_proxy_queue_rejections_total',
      help: 'Requests answered 429 because the queue behind instances at maxConcurrency was full.',
      labelNames: ['project'],
      registers,
    });
  }

  serviceDeployed(service: string): void {
    const project = serviceLabel(service);
    if (this.deployed.has(project)) return;
    this.deployed.add(project);
    for (const status of ZEROED_STATUSES) this.seriesFor(project, status);
    this.held.inc({ project }, 0);
    this.wakeTimeouts.inc({ project }, 0);
    this.queued.set({ project }, 0);
    this.queueRejections.inc({ project }, 0);
  }

  serviceRemoved(service: string): void {
    const project = serviceLabel(service);
    // Lease services share one label value: it stays while any may be routed.
    if (project !== service || !this.deployed.delete(project)) return;
    for (const [key, list] of this.requestSeries) {
      if (key !== project && !key.startsWith(`${project}\0`)) continue;
      for (const series of list) if (series) this.requests.delete(series);
      this.requestSeries.delete(key);
    }
    this.held.remove({ project });
    this.wakeTimeouts.remove({ project });
    this.holdWait.remove({ project });
    this.heldFirstByte.remove({ project });
    this.queued.remove({ project });
    this.queueWait.remove({ project });
    this.queueRejections.remove({ project });
  }

  requestFinished(service: string, statusCode: number, seconds: number, revision?: string): void {
    const project = serviceLabel(service);
    const key = revision === undefined ? project : `${project}\0${revision}`;
    const series = this.requestSeries.get(key)?.[classIndex(statusCode)];
    (series ?? this.seriesFor(project, statusCode, revision)).observe(seconds);
  }

  /** The project's (or its revision's) series for the status's class, added at zero if it has none yet. */
  private seriesFor(project: string, statusCode: number, revision?: string): TalliedSeries {
    const key = revision === undefined ? project : `${project}\0${revision}`;
    let list = this.requestSeries.get(key);
    if (!list) {
      list = [];
      this.requestSeries.set(key, list);
    }
    const labels: Record<string, string> = revision === undefined ? { project } : { project, revision };
    return (list[classIndex(statusCode)] ??= this.requests.add({ ...labels, code_class: statusClass(statusCode) }));
  }

  requestHeld(service: string): void {
    this.held.inc({ project: serviceLabel(service) });
  }

  heldRequestRouted(service: string, seconds: number): void {
    this.holdWait.observe({ project: serviceLabel(service) }, seconds);
  }

  heldRequestFirstByte(service: string, seconds: number): void {
    this.heldFirstByte.observe({ project: serviceLabel(service) }, seconds);
  }

  wakeTimedOut(service: string): void {
    this.wakeTimeouts.inc({ project: serviceLabel(service) });
  }

  queueLength(service: string, length: number): void {
    this.queued.set({ project: serviceLabel(service) }, length);
  }

  queuedRequestRouted(service: string, seconds: number): void {
    this.queueWait.observe({ project: serviceLabel(service) }, seconds);
  }

  queueRejected(service: string): void {
    this.queueRejections.inc({ project: serviceLabel(service) });
  }
}
