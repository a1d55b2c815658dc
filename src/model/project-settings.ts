import { containerCapabilities, type Capability } from './capabilities.js';
import { parseCpu, parseDuration, parseMemory } from './quantities.js';
import type { EnvValue, LivenessSpec, ProjectSpec, SecretKeyRef } from './types.js';

// A Project's spec with every default filled in and every quantity read as a plain
// number: what the controller and scaler work with. The spec must have passed
// validation (parseManifests); a quantity that does not parse throws QuantityError.

// ---------- defaults ----------
export const DEFAULT_PORT = 8080;
export const DEFAULT_MIN_INSTANCES = 0;
export const DEFAULT_MAX_INSTANCES = 1;
/** Cloud Run's default concurrency per instance. */
export const DEFAULT_TARGET_CONCURRENCY = 80;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;
export const DEFAULT_READINESS_PATH = '/';
export const DEFAULT_POOL_SIZE = 0;
export const DEFAULT_TLS = false;
/** Kubernetes' liveness defaults. */
export const DEFAULT_LIVENESS_PERIOD_SECONDS = 10;
export const DEFAULT_LIVENESS_TIMEOUT_SECONDS = 1;
export const DEFAULT_LIVENESS_FAILURE_THRESHOLD = 3;
export const DEFAULT_LIVENESS_INITIAL_DELAY_SECONDS = 0;
/** Cloud Run's default request timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
/** Queued requests per concurrency slot when maxQueued is not given (Knative's queue depth)... */
export const QUEUED_PER_SLOT = 10;
/** ...and at most this many by default. */
export const DEFAULT_MAX_QUEUED_CAP = 1_000;
// ---------------------------------

/** `h2c`: the HTTP GET, over HTTP/2 cleartext, of a project whose app speaks only that (spec.http2). */
export type ReadinessSettings = { type: 'http'; path: string } | { type: 'h2c'; path: string } | { type: 'tcp' };

export interface LivenessSettings {
  check: ReadinessSettings;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  initialDelayMs: number;
}

export interface ProjectSettings {
  image: string;
  hostnames: string[];
  port: number;
  /**
   * The user's variables plus PORT (unless the user set it), sorted by name. Variables
   * from Secrets are in `secretEnv` until the controller resolves them (src/secrets/secret-env.ts).
   */
  env: Record<string, string>;
  /** Variables whose values come from Secrets, by variable name; absent when none do. */
  secretEnv?: Record<string, SecretKeyRef>;
  /** Once `env` holds the Secrets' values: their digests, which the spec hash reads instead of them. */
  secretDigests?: Record<string, string>;
  /** The image's ENTRYPOINT replaced (its CMD dropped unless args are given). */
  command?: string[];
  /** The image's CMD replaced. */
  args?: string[];
  cpuMillis?: number;
  memoryBytes?: number;
  /** The Linux capabilities its containers keep: Luma's kept set plus spec.securityContext.capabilities.add, sorted. */
  capabilities: Capability[];
  minInstances: number;
  maxInstances: number;
  /** Never above maxConcurrency: another instance starts before requests must queue. */
  targetConcurrency: number;
  /** The hard cap of in-flight requests per instance; undefined: none. */
  maxConcurrency?: number;
  /** Requests that may wait for a slot (with maxConcurrency only). */
  maxQueued?: number;
  /** The longest a request may take, arrival to last byte. */
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  /** Absent when not declared, or when it would not come before the idle timeout. */
  pauseAfterMs?: number;
  startupTimeoutMs: number;
  readiness: ReadinessSettings;
  /** Absent when the project declares no liveness check. */
  liveness?: LivenessSettings;
  poolSize: number;
  /** Leases of this project active at once; undefined: only the operator's total applies. */
  maxConcurrentLeases: number | undefined;
  tls: boolean;
  /** The proxy speaks HTTP/2 cleartext to the app (spec.http2); absent when it speaks HTTP/1.1. */
  http2?: true;
}

export interface ProjectSettingsOverrides {
  /** The operator's idle timeout for projects that declare none. */
  defaultIdleTimeoutMs?: number;
  /**
   * The operator's memory limit for projects that declare none, so that admission by
   * memory counts what Docker enforces. Pool and lease containers have their own
   * default (leases.defaultMemory) and do not pass this.
   */
  defaultMemoryBytes?: number;
}

export function resolveProjectSettings(spec: ProjectSpec, overrides: ProjectSettingsOverrides = {}): ProjectSettings {
  const port = spec.port ?? DEFAULT_PORT;
  const scaling = spec.scaling ?? {};
  const minInstances = scaling.minInstances ?? DEFAULT_MIN_INSTANCES;
  // Declaring minInstances: 3 alone means "at least 3", not an error against the default of 1.
  const maxInstances = scaling.maxInstances ?? Math.max(DEFAULT_MAX_INSTANCES, minInstances);
  const idleTimeoutMs =
    scaling.idleTimeout !== undefined
      ? parseDuration(scaling.idleTimeout)
      : (overrides.defaultIdleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  const pauseAfterMs = scaling.pauseAfter !== undefined ? parseDuration(scaling.pauseAfter) : undefined;
  const readiness = spec.readiness ?? {};

  const settings: ProjectSettings = {
    image: spec.image,
    hostnames: [...spec.hostnames],
    port,
    env: containerEnv(plainEnv(spec.env ?? {}), port),
    capabilities: containerCapabilities(spec.securityContext?.capabilities?.add),
    minInstances,
    maxInstances,
    targetConcurrency: Math.min(
      scaling.targetConcurrency ?? DEFAULT_TARGET_CONCURRENCY,
      scaling.maxConcurrency ?? Number.POSITIVE_INFINITY,
    ),
    requestTimeoutMs: spec.timeout !== undefined ? parseDuration(spec.timeout) : DEFAULT_REQUEST_TIMEOUT_MS,
    idleTimeoutMs,
    startupTimeoutMs:
      readiness.startupTimeout !== undefined ? parseDuration(readiness.startupTimeout) : DEFAULT_STARTUP_TIMEOUT_MS,
    readiness: readiness.tcpSocket
      ? { type: 'tcp' }
      : { type: spec.http2 ? 'h2c' : 'http', path: readiness.httpGet?.path ?? DEFAULT_READINESS_PATH },
    poolSize: spec.pool?.size ?? DEFAULT_POOL_SIZE,
    maxConcurrentLeases: spec.leases?.maxConcurrent,
    tls: spec.tls ?? DEFAULT_TLS,
  };
  if (spec.http2) settings.http2 = true;
  if (scaling.maxConcurrency !== undefined) Object.assign(settings, concurrencyCap(scaling, maxInstances));
  const secretEnv = secretEnvOf(spec.env ?? {});
  if (Object.keys(secretEnv).length > 0) settings.secretEnv = secretEnv;
  if (spec.command) settings.command = [...spec.command];
  if (spec.args) settings.args = [...spec.args];
  if (spec.liveness) settings.liveness = livenessSettings(spec.liveness);
  if (spec.resources?.cpu !== undefined) settings.cpuMillis = parseCpu(spec.resources.cpu);
  if (spec.resources?.memory !== undefined) settings.memoryBytes = parseMemory(spec.resources.memory);
  else if (overrides.defaultMemoryBytes !== undefined) settings.memoryBytes = overrides.defaultMemoryBytes;
  // Validation compares pauseAfter with a declared idleTimeout only; against the
  // operator's default it can come too late, and then pausing is simply skipped.
  if (pauseAfterMs !== undefined && pauseAfterMs > 0 && pauseAfterMs < idleTimeoutMs)
    settings.pauseAfterMs = pauseAfterMs;
  return settings;
}

/** The hard cap and the bound of the queue behind it (spec.scaling.maxConcurrency is set). */
function concurrencyCap(
  scaling: NonNullable<ProjectSpec['scaling']>,
  maxInstances: number,
): { maxConcurrency: number; maxQueued: number } {
  const maxConcurrency = scaling.maxConcurrency ?? 1;
  const byDefault = Math.min(QUEUED_PER_SLOT * maxInstances * maxConcurrency, DEFAULT_MAX_QUEUED_CAP);
  return { maxConcurrency, maxQueued: scaling.maxQueued ?? byDefault };
}

/**
 * Resolves specs against the operator's defaults, fixed once when Luma starts: what the
 * controller holds, so that no reconciler carries the defaults themselves.
 */
export class ProjectSettingsResolver {
  constructor(private readonly defaults: ProjectSettingsOverrides = {}) {}

  /** A project's own instances: the operator's idle timeout and memory defaults apply. */
  forProject(spec: ProjectSpec): ProjectSettings {
    return resolveProjectSettings(spec, this.defaults);
  }

  /** Pool and lease containers: the idle timeout default only; their memory default is leases.defaultMemory. */
  forPool(spec: ProjectSpec): ProjectSettings {
    return resolveProjectSettings(spec, { defaultIdleTimeoutMs: this.defaults.defaultIdleTimeoutMs });
  }
}

/** Luma's own defaults, where no operator settings are given (unit tests, a bare Controller). */
export const BUILT_IN_PROJECT_SETTINGS = new ProjectSettingsResolver();

/**
 * Sorted so that reordering variables in the manifest does not change the container's
 * spec hash and so does not replace running containers.
 */
function containerEnv(env: Record<string, string>, port: number): Record<string, string> {
  const merged: Record<string, string> = { PORT: String(port), ...env };
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function livenessSettings(spec: LivenessSpec): LivenessSettings {
  return {
    check: spec.httpGet ? { type: 'http', path: spec.httpGet.path } : { type: 'tcp' },
    periodMs: (spec.periodSeconds ?? DEFAULT_LIVENESS_PERIOD_SECONDS) * 1000,
    timeoutMs: (spec.timeoutSeconds ?? DEFAULT_LIVENESS_TIMEOUT_SECONDS) * 1000,
    failureThreshold: spec.failureThreshold ?? DEFAULT_LIVENESS_FAILURE_THRESHOLD,
    initialDelayMs: (spec.initialDelaySeconds ?? DEFAULT_LIVENESS_INITIAL_DELAY_SECONDS) * 1000,
  };
}

/** The variables written in the manifest itself. */
export function plainEnv(env: Record<string, EnvValue>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

/** The variables taken from Secrets, sorted by name. */
export function secretEnvOf(env: Record<string, EnvValue>): Record<string, SecretKeyRef> {
  const refs: Array<[string, SecretKeyRef]> = [];
  for (const [name, value] of Object.entries(env))
    if (typeof value !== 'string') refs.push([name, { ...value.valueFrom.secretKeyRef }]);
  return Object.fromEntries(refs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
