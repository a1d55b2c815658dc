import { Counter, Histogram, type Registry } from 'prom-client';
import {
  TIER_PHASES,
  type BuildResult,
  type ColdStartPhase,
  type ColdStartTier,
  type ControllerMetrics,
  type LeaseSource,
  type ReconcileResultLabel,
} from './controller-metrics.js';
import { BUILD_BUCKETS, COLD_START_BUCKETS, RECONCILE_BUCKETS } from './registry.js';

// The controller's events as Prometheus counters and histograms. Counters whose labels are
// known in advance start at zero (Prometheus' advice: a series that first appears at 1
// hides that increase from rate()). A project's histograms appear with their first
// observation instead: zeroed, they cost about 150 lines of /metrics and 30 KB of memory
// per project that may never start (1,000 idle projects made a 23 MB scrape), while the
// zeroed luma_cold_starts_total counts that first start for rate().

const RECONCILED_KINDS = ['Project', 'Image', 'Pool', 'Lease'];
const TIERS = Object.keys(TIER_PHASES) as ColdStartTier[];

export class PrometheusControllerMetrics implements ControllerMetrics {
  private readonly phases: Histogram<'project' | 'tier' | 'phase'>;
  private readonly coldStarts: Histogram<'project' | 'tier'>;
  private readonly coldStartCount: Counter<'project' | 'tier'>;
  private readonly startFailures: Counter<'project'>;
  private readonly livenessFailures: Counter<'project'>;
  private readonly scaleEvents: Counter<'project' | 'direction'>;
  private readonly reconciles: Histogram<'kind' | 'result'>;
  private readonly reconcileErrors: Counter<'kind'>;
  private readonly builds: Histogram<'result'>;
  private readonly leasesStarted: Counter<'project' | 'source'>;
  private readonly poolClaims: Counter<'project'>;
  private readonly poolRefills: Counter<'project'>;
  private readonly observedProjects = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.phases = new Histogram({
      name: 'luma_cold_start_phase_duration_seconds',
      help: 'Each phase of a cold start (image_ready, create, start, readiness) by idle tier (paused, stopped, fresh).',
      labelNames: ['project', 'tier', 'phase'],
      buckets: COLD_START_BUCKETS,
      registers,
    });
    this.coldStarts = new Histogram({
      name: 'luma_cold_start_duration_seconds',
      help: 'Cold starts, from deciding to start an instance to its readiness passing, by idle tier.',
      labelNames: ['project', 'tier'],
      buckets: COLD_START_BUCKETS,
      registers,
    });
    this.coldStartCount = new Counter({
      name: 'luma_cold_starts_total',
      help: 'Cold starts that passed readiness, by idle tier (paused, stopped, fresh).',
      labelNames: ['project', 'tier'],
      registers,
    });
    this.startFailures = new Counter({
      name: 'luma_instance_start_failures_total',
      help: 'Instances that failed to start or never passed readiness.',
      labelNames: ['project'],
      registers,
    });
    this.livenessFailures = new Counter({
      name: 'luma_liveness_failures_total',
      help: 'Instances that failed their liveness check failureThreshold times in a row, taken out of rotation and replaced.',
      labelNames: ['project'],
      registers,
    });
    this.scaleEvents = new Counter({
      name: 'luma_scale_events_total',
      help: 'Scaling decisions carried out: direction up (instances started) or down (paused or stopped).',
      labelNames: ['project', 'direction'],
      registers,
    });
    this.reconciles = new Histogram({
      name: 'luma_reconcile_duration_seconds',
      help: 'Reconciles by kind and result.',
      labelNames: ['kind', 'result'],
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'luma_reconcile_errors_total',
      help: 'Reconciles that failed and were requeued with backoff.',
      labelNames: ['kind'],
      registers,
    });
    this.builds = new Histogram({
      name: 'luma_image_build_duration_seconds',
      help: 'Image builds by result.',
      labelNames: ['result'],
      buckets: BUILD_BUCKETS,
      registers,
    });
    this.leasesStarted = new Counter({
      name: 'luma_leases_started_total',
      help: 'Leases whose container became theirs, claimed from the pool or started fresh.',
      labelNames: ['project', 'source'],
      registers,
    });
    this.poolClaims = new Counter({
      name: 'luma_pool_claims_total',
      help: 'Pool containers claimed by leases.',
      labelNames: ['project'],
      registers,
    });
    this.poolRefills = new Counter({
      name: 'luma_pool_refilled_instances_total',
      help: 'Containers started to refill pools.',
      labelNames: ['project'],
      registers,
    });
    for (const result of ['succeeded', 'failed', 'cancelled']) this.builds.zero({ result });
    for (const kind of RECONCILED_KINDS) {
      this.reconciles.zero({ kind, result: 'success' });
      this.reconciles.zero({ kind, result: 'error' });
      this.reconcileErrors.inc({ kind }, 0);
    }
  }

  projectObserved(project: string): void {
    if (this.observedProjects.has(project)) return;
    this.observedProjects.add(project);
    for (const { metric, labels } of this.projectSeries(project)) if (metric instanceof Counter) metric.inc(labels, 0);
  }

  projectRemoved(project: string): void {
    if (!this.observedProjects.delete(project)) return;
    for (const { metric, labels } of this.projectSeries(project)) metric.remove(labels);
  }

  /** Every series a project may have, for zeroing (its counters) and removal alike. */
  private projectSeries(
    project: string,
  ): Array<{ metric: Histogram<string> | Counter<string>; labels: Record<string, string> }> {
    const series: Array<{ metric: Histogram<string> | Counter<string>; labels: Record<string, string> }> = [];
    for (const tier of TIERS) {
      series.push(
        { metric: this.coldStarts, labels: { project, tier } },
        { metric: this.coldStartCount, labels: { project, tier } },
      );
      for (const phase of TIER_PHASES[tier]) series.push({ metric: this.phases, labels: { project, tier, phase } });
    }
    for (const direction of ['up', 'down']) series.push({ metric: this.scaleEvents, labels: { project, direction } });
    for (const source of ['pool', 'fresh']) series.push({ metric: this.leasesStarted, labels: { project, source } });
    for (const metric of [this.startFailures, this.livenessFailures, this.poolClaims, this.poolRefills])
      series.push({ metric, labels: { project } });
    return series;
  }

  coldStartPhase(project: string, tier: ColdStartTier, phase: ColdStartPhase, seconds: number): void {
    this.phases.observe({ project, tier, phase }, seconds);
  }

  coldStart(project: string, tier: ColdStartTier, seconds: number): void {
    this.coldStarts.observe({ project, tier }, seconds);
    this.coldStartCount.inc({ project, tier });
  }

  instanceStartFailed(project: string): void {
    this.startFailures.inc({ project });
  }

  livenessFailed(project: string): void {
    this.livenessFailures.inc({ project });
  }

  scaled(project: string, direction: 'up' | 'down', instances: number): void {
    if (instances > 0) this.scaleEvents.inc({ project, direction }, instances);
  }

  reconciled(kind: string, result: ReconcileResultLabel, seconds: number): void {
    this.reconciles.observe({ kind, result }, seconds);
    if (result === 'error') this.reconcileErrors.inc({ kind });
  }

  imageBuilt(result: BuildResult, seconds: number): void {
    this.builds.observe({ result }, seconds);
  }

  leaseStarted(project: string, source: LeaseSource): void {
    this.leasesStarted.inc({ project, source });
    if (source === 'pool') this.poolClaims.inc({ project });
  }

  poolRefilled(project: string, instances: number): void {
    if (instances > 0) this.poolRefills.inc({ project }, instances);
  }
}
