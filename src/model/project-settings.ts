import { containerCapabilities, type Capability } from './capabilities.js';
import { parseCpu, parseDuration, parseMemory } from './quantities.js';
import type { EnvValue, ProjectSpec, SecretKeyRef } from './types.js';

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
// ---------------------------------

export type ReadinessSettings = { type: 'http'; path: string } | { type: 'tcp' };

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
  command?: string[];
  cpuMillis?: number;
  memoryBytes?: number;
  /** The Linux capabilities its containers keep: Luma's kept set plus spec.securityContext.capabilities.add, sorted. */
  capabilities: Capability[];
  minInstances: number;
  maxInstances: number;
  targetConcurrency: number;
  idleTimeoutMs: number;
  /** Absent when not declared, or when it would not come before the idle timeout. */
  pauseAfterMs?: number;
  startupTimeoutMs: number;
  readiness: ReadinessSettings;
  poolSize: number;
  /** Leases of this project active at once; undefined: only the operator's total applies. */
  maxConcurrentLeases: number | undefined;
  tls: boolean;
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
    targetConcurrency: scaling.targetConcurrency ?? DEFAULT_TARGET_CONCURRENCY,
    idleTimeoutMs,
    startupTimeoutMs:
      readiness.startupTimeout !== undefined ? parseDuration(readiness.startupTimeout) : DEFAULT_STARTUP_TIMEOUT_MS,
    readiness: readiness.tcpSocket
      ? { type: 'tcp' }
      : { type: 'http', path: readiness.httpGet?.path ?? DEFAULT_READINESS_PATH },
    poolSize: spec.pool?.size ?? DEFAULT_POOL_SIZE,
    maxConcurrentLeases: spec.leases?.maxConcurrent,
    tls: spec.tls ?? DEFAULT_TLS,
  };
  const secretEnv = secretEnvOf(spec.env ?? {});
  if (Object.keys(secretEnv).length > 0) settings.secretEnv = secretEnv;
  if (spec.command) settings.command = [...spec.command];
  if (spec.resources?.cpu !== undefined) settings.cpuMillis = parseCpu(spec.resources.cpu);
  if (spec.resources?.memory !== undefined) settings.memoryBytes = parseMemory(spec.resources.memory);
  else if (overrides.defaultMemoryBytes !== undefined) settings.memoryBytes = overrides.defaultMemoryBytes;
  // Validation compares pauseAfter with a declared idleTimeout only; against the
  // operator's default it can come too late, and then pausing is simply skipped.
  if (pauseAfterMs !== undefined && pauseAfterMs > 0 && pauseAfterMs < idleTimeoutMs)
    settings.pauseAfterMs = pauseAfterMs;
  return settings;
}

/**
 * Sorted so that reordering variables in the manifest does not change the container's
 * spec hash and so does not replace running containers.
 */
function containerEnv(env: Record<string, string>, port: number): Record<string, string> {
  const merged: Record<string, string> = { PORT: String(port), ...env };
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
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
