// What the controller tells Prometheus about what it does. Reconcilers call this
// interface and know nothing of prom-client; state that already lives in the store (instances
// by state, pools, leases) is read at scrape time instead (see controller-collectors.ts).

/** How far from serving an instance was when it was asked to: the idle tiers. */
export type ColdStartTier = 'paused' | 'stopped' | 'fresh';
/**
 * The parts of a cold start the controller sees, in order: waiting for the image to be
 * present (fresh only), creating the container (fresh only), starting or unpausing it,
 * and its readiness probe passing. The first byte is the proxy's to see
 * (`luma_proxy_cold_start_first_byte_seconds`).
 */
export type ColdStartPhase = 'image_ready' | 'create' | 'start' | 'readiness';
export type ReconcileResultLabel = 'success' | 'error';
export type BuildResult = 'succeeded' | 'failed' | 'cancelled';
export type LeaseSource = 'pool' | 'fresh';

/** The phases each tier goes through. */
export const TIER_PHASES: Record<ColdStartTier, readonly ColdStartPhase[]> = {
  paused: ['start', 'readiness'],
  stopped: ['start', 'readiness'],
  fresh: ['image_ready', 'create', 'start', 'readiness'],
};

export interface ControllerMetrics {
  /**
   * A project is being reconciled: its counters start at zero now (once), so that a rate
   * over its first cold start is not lost to a series that appeared already at 1.
   */
  projectObserved(project: string): void;
  /** A project was deleted: its series go. */
  projectRemoved(project: string): void;
  coldStartPhase(project: string, tier: ColdStartTier, phase: ColdStartPhase, seconds: number): void;
  /** A whole cold start: from deciding to start an instance to its readiness passing. */
  coldStart(project: string, tier: ColdStartTier, seconds: number): void;
  /** An instance failed to start or never passed readiness: many in a row is a crash loop. */
  instanceStartFailed(project: string): void;
  /** An instance failed its liveness check failureThreshold times in a row: it is taken out and replaced. */
  livenessFailed(project: string): void;
  /** Instances added (up) or taken out of service (down: paused or stopped). */
  scaled(project: string, direction: 'up' | 'down', instances: number): void;
  reconciled(kind: string, result: ReconcileResultLabel, seconds: number): void;
  imageBuilt(result: BuildResult, seconds: number): void;
  leaseStarted(project: string, source: LeaseSource): void;
  poolRefilled(project: string, instances: number): void;
}

export const NO_CONTROLLER_METRICS: ControllerMetrics = {
  projectObserved: () => undefined,
  projectRemoved: () => undefined,
  coldStartPhase: () => undefined,
  coldStart: () => undefined,
  instanceStartFailed: () => undefined,
  livenessFailed: () => undefined,
  scaled: () => undefined,
  reconciled: () => undefined,
  imageBuilt: () => undefined,
  leaseStarted: () => undefined,
  poolRefilled: () => undefined,
};
