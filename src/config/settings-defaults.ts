import type { CompatSettings } from '../compat/settings.js';
import { DEFAULT_WEBHOOK_SETTINGS, type WebhookSettings } from '../events/webhooks.js';
import type { LeaseDefaults } from '../model/lease-resources.js';
import { DEFAULT_IDLE_TIMEOUT_MS, ProjectSettingsResolver } from '../model/project-settings.js';

// Operator settings (`--config FILE`): what the person running Luma decides, as opposed
// to what app owners declare in manifests. The typed object every part of Luma reads,
// and its defaults in one block; settings.ts fills it from the file.

export interface LeaseBounds {
  minTtlMs: number;
  maxTtlMs: number;
  minCpuMillis: number;
  maxCpuMillis: number;
  minMemoryBytes: number;
  maxMemoryBytes: number;
}

export type { LeaseDefaults } from '../model/lease-resources.js';

export interface Prices {
  perVcpuSecond: number;
  perGibSecond: number;
  /** An ISO 4217 code such as USD or EUR. */
  currency: string;
}

export interface OperatorSettings {
  defaultIdleTimeoutMs: number;
  /** Memory limit of project instances that declare none. */
  defaultMemoryBytes: number;
  resyncIntervalMs: number;
  stopTimeoutSeconds: number;
  instance: string;
  stoppedRetentionMs: number;
  /** Revisions kept per project (with the images they run). */
  revisionHistoryLimit: number;
  maxUploadBytes: number;
  contextLimits: { maxUnpackedBytes: number; maxEntries: number };
  leaseBounds: LeaseBounds;
  leaseDefaults: LeaseDefaults;
  /** Leases not yet ended, across every project. */
  maxActiveLeases: number;
  /** SIGTERM → SIGKILL when a lease's container is destroyed at expiry or release. */
  leaseGracePeriodMs: number;
  prices: Prices;
  /** Image patterns that may run; absent means every image may. */
  imageAllowlist?: string[];
  /** Pool containers started at once, and the pause between such batches. */
  poolBatchSize: number;
  poolBatchSpacingMs: number;
  /** A followed log (SSE, WebSocket) sends a heartbeat this often. */
  logHeartbeatIntervalMs: number;
  /** Lifecycle events POSTed as CloudEvents to these URLs; none by default. */
  webhooks: WebhookSettings;
  /** The watched manifests directory (`--manifests`). */
  sync: SyncSettings;
  /** Admission by memory: how much memory the containers may hold in all. */
  admission: AdmissionSettings;
  /** The earlier systems' interfaces (src/compat/settings.ts); their defaults when absent. */
  compat?: CompatSettings;
}

/**
 * The sum of the memory limits of running and paused containers is kept at or under
 * `memoryLimitBytes` (none by default): a start that would pass it first stops idle
 * containers, else waits. A container declared without a limit counts as
 * `unlimitedContainerBytes`, since Docker lets it use whatever the host has.
 */
export interface AdmissionSettings {
  memoryLimitBytes?: number;
  unlimitedContainerBytes: number;
}

/** How the watched directory is followed, and the guards on what it may prune. */
export interface SyncSettings {
  /** Changes are gathered this long after the last one, so a `git pull` is one pass. */
  debounceMs: number;
  /** A directory found empty or missing prunes nothing until it has stayed so this long. */
  emptyGracePeriodMs: number;
  /** One pass prunes at most this share (0–1] of the objects the directory owns (always at least one). */
  maxPruneShare: number;
  /** Both guards off (`--force-prune`): for an operator who means it. */
  forcePrune: boolean;
  /**
   * A file is read once its size and times have stayed still this long (0: at once), and an
   * object gone from a file that still exists is pruned only if still gone this much later.
   */
  writeFinishMs: number;
}

/** The one place the operator's defaults for projects meet their specs (the controller reads only this). */
export function projectSettingsResolver(
  settings: Pick<OperatorSettings, 'defaultIdleTimeoutMs' | 'defaultMemoryBytes'>,
): ProjectSettingsResolver {
  return new ProjectSettingsResolver({
    defaultIdleTimeoutMs: settings.defaultIdleTimeoutMs,
    defaultMemoryBytes: settings.defaultMemoryBytes,
  });
}

export const DEFAULT_SETTINGS: OperatorSettings = {
  /** Idle timeout for projects that do not declare one. */
  defaultIdleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
  /**
   * Memory limit of project instances that declare none: without one, Docker lets a
   * container take the whole host while admission by memory counts it as
   * admission.unlimitedContainerBytes (the same 512Mi).
   */
  defaultMemoryBytes: 512 * 2 ** 20,
  /** How often every object is reconciled even when no event announced a change. */
  resyncIntervalMs: 10_000,
  /** Grace between SIGTERM and SIGKILL when an idle container is stopped. */
  stopTimeoutSeconds: 10,
  /** Names this installation in container labels; tests give each run its own. */
  instance: 'default',
  /** Stopped containers are kept this long for a fast restart, then removed. */
  stoppedRetentionMs: 3_600_000,
  /** Kubernetes keeps 10 ReplicaSets of a Deployment by default; so many revisions are kept here. */
  revisionHistoryLimit: 10,
  /** Uploaded build contexts: the archive itself, and what it may unpack to. */
  maxUploadBytes: 256 * 1024 * 1024,
  contextLimits: { maxUnpackedBytes: 512 * 1024 * 1024, maxEntries: 20_000 },
  leaseBounds: {
    minTtlMs: 5 * 60_000,
    maxTtlMs: 120 * 60_000,
    minCpuMillis: 250,
    maxCpuMillis: 2_000,
    minMemoryBytes: 256 * 2 ** 20,
    maxMemoryBytes: 2 * 2 ** 30,
  },
  leaseDefaults: { cpuMillis: 250, memoryBytes: 256 * 2 ** 20 },
  maxActiveLeases: 20,
  leaseGracePeriodMs: 10_000,
  /** Cloud Run's list prices (tier 1, instance-based billing) at the time of writing. */
  prices: { perVcpuSecond: 0.000024, perGibSecond: 0.0000025, currency: 'USD' },
  poolBatchSize: 2,
  poolBatchSpacingMs: 1_000,
  /** A followed log (SSE, WebSocket) sends a heartbeat this often, so idle streams stay open. */
  logHeartbeatIntervalMs: 15_000,
  sync: {
    debounceMs: 300,
    emptyGracePeriodMs: 5 * 60_000,
    maxPruneShare: 0.5,
    forcePrune: false,
    writeFinishMs: 2_000,
  },
  webhooks: DEFAULT_WEBHOOK_SETTINGS,
  admission: { unlimitedContainerBytes: 512 * 2 ** 20 },
};
