import { readFile } from 'node:fs/promises';
import { formatIssue, sortIssues, type ManifestIssue } from '../model/manifest-error.js';
import { compatFailure, parseCompatSettings } from '../compat/settings.js';
import { parseCpu, parseDuration, parseMemory } from '../model/quantities.js';
import { parseSchemaDocument } from '../model/yaml-document.js';
import { settingsIssues } from './settings-checks.js';
import { DEFAULT_SETTINGS, type OperatorSettings } from './settings-defaults.js';
import type { SettingsFile } from './settings-file.js';

// Reads the operator settings file (`--config FILE`) the way manifests are read: YAML
// with positions, schemas/settings.schema.json through ajv, then the rules a schema
// cannot state. A bad file is refused with every problem as file:line:column: path:
// message, so a running Luma never meets a bound it cannot honour. Defaults are laid
// under the file once, here: the rest of Luma gets one complete OperatorSettings.

export * from './settings-defaults.js';

export const SETTINGS_SCHEMA_FILE = 'settings.schema.json';

export class SettingsError extends Error {
  readonly issues: ManifestIssue[];

  constructor(message: string, issues: readonly ManifestIssue[] = []) {
    super(message);
    this.name = 'SettingsError';
    this.issues = [...issues];
  }
}

/** The file's settings over the defaults; throws SettingsError naming every problem. */
export function parseSettings(text: string, file: string): OperatorSettings {
  const { value, issues } = parseSchemaDocument(text, file, SETTINGS_SCHEMA_FILE, settingsIssues);
  if (issues.length > 0) {
    const sorted = sortIssues(issues);
    throw new SettingsError(sorted.map(formatIssue).join('\n'), sorted);
  }
  // The schema and the checks have just accepted it, which is what the cast asserts.
  return resolveSettings((value ?? {}) as SettingsFile);
}

const INSTANCE_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** Defaults, then the config file, then LUMA_INSTANCE (so a test run can isolate itself). */
export async function loadSettings(
  configFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<OperatorSettings> {
  const settings = configFile ? parseSettings(await readConfig(configFile), configFile) : resolveSettings({});
  if (env.LUMA_INSTANCE) {
    if (!INSTANCE_PATTERN.test(env.LUMA_INSTANCE))
      throw new SettingsError(
        `LUMA_INSTANCE: expected lower-case letters, digits and dashes, got "${env.LUMA_INSTANCE}"`,
      );
    settings.instance = env.LUMA_INSTANCE;
  }
  return settings;
}

async function readConfig(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new SettingsError(`cannot read the config file ${file}: ${code}`);
  }
}

const duration = (value: string | undefined, fallback: number): number =>
  value === undefined ? fallback : parseDuration(value);
const cpu = (value: string | number | undefined, fallback: number): number =>
  value === undefined ? fallback : parseCpu(String(value));
const memory = (value: string | number | undefined, fallback: number): number =>
  value === undefined ? fallback : parseMemory(String(value));

/** A validated file laid over a fresh copy of the defaults: nothing a caller changes reaches them. */
export function resolveSettings(file: SettingsFile): OperatorSettings {
  const base = structuredClone(DEFAULT_SETTINGS);
  const settings: OperatorSettings = {
    ...base,
    defaultIdleTimeoutMs: duration(file.defaultIdleTimeout, base.defaultIdleTimeoutMs),
    defaultMemoryBytes: memory(file.defaultMemory, base.defaultMemoryBytes),
    resyncIntervalMs: duration(file.resyncInterval, base.resyncIntervalMs),
    stopTimeoutSeconds:
      file.stopTimeout === undefined ? base.stopTimeoutSeconds : Math.ceil(parseDuration(file.stopTimeout) / 1000),
    stoppedRetentionMs: duration(file.stoppedRetention, base.stoppedRetentionMs),
    revisionHistoryLimit: file.revisionHistoryLimit ?? base.revisionHistoryLimit,
    maxUploadBytes: file.maxUploadBytes ?? base.maxUploadBytes,
    contextLimits: {
      maxUnpackedBytes: file.maxContextBytes ?? base.contextLimits.maxUnpackedBytes,
      maxEntries: file.maxContextEntries ?? base.contextLimits.maxEntries,
    },
    instance: file.instance ?? base.instance,
    logHeartbeatIntervalMs: duration(file.logHeartbeatInterval, base.logHeartbeatIntervalMs),
    ...resolveLeases(file.leases ?? {}, base),
    prices: {
      perVcpuSecond: file.prices?.vcpuSecond ?? base.prices.perVcpuSecond,
      perGibSecond: file.prices?.gibSecond ?? base.prices.perGibSecond,
      currency: file.prices?.currency ?? base.prices.currency,
    },
    poolBatchSize: file.pool?.batchSize ?? base.poolBatchSize,
    poolBatchSpacingMs: duration(file.pool?.batchSpacing, base.poolBatchSpacingMs),
    sync: resolveSync(file.sync ?? {}, base),
    webhooks: resolveWebhooks(file.webhooks ?? {}, base),
    admission: resolveAdmission(file.admission ?? {}, base),
  };
  if (file.imageAllowlist !== undefined) settings.imageAllowlist = [...file.imageAllowlist];
  // The checks have read this section already, so the reader cannot fail here.
  if (file.compat) Object.assign(settings, parseCompatSettings(file.compat, compatFailure));
  return settings;
}

type LeaseSettings = Pick<OperatorSettings, 'leaseBounds' | 'leaseDefaults' | 'maxActiveLeases' | 'leaseGracePeriodMs'>;

function resolveLeases(leases: NonNullable<SettingsFile['leases']>, base: OperatorSettings): LeaseSettings {
  const bounds = base.leaseBounds;
  return {
    leaseBounds: {
      minTtlMs: duration(leases.minTtl, bounds.minTtlMs),
      maxTtlMs: duration(leases.maxTtl, bounds.maxTtlMs),
      minCpuMillis: cpu(leases.minCpu, bounds.minCpuMillis),
      maxCpuMillis: cpu(leases.maxCpu, bounds.maxCpuMillis),
      minMemoryBytes: memory(leases.minMemory, bounds.minMemoryBytes),
      maxMemoryBytes: memory(leases.maxMemory, bounds.maxMemoryBytes),
    },
    leaseDefaults: {
      cpuMillis: cpu(leases.defaultCpu, base.leaseDefaults.cpuMillis),
      memoryBytes: memory(leases.defaultMemory, base.leaseDefaults.memoryBytes),
    },
    maxActiveLeases: leases.maxActive ?? base.maxActiveLeases,
    leaseGracePeriodMs: duration(leases.gracePeriod, base.leaseGracePeriodMs),
  };
}

function resolveSync(sync: NonNullable<SettingsFile['sync']>, base: OperatorSettings): OperatorSettings['sync'] {
  return {
    debounceMs: duration(sync.debounce, base.sync.debounceMs),
    emptyGracePeriodMs: duration(sync.emptyGracePeriod, base.sync.emptyGracePeriodMs),
    maxPruneShare: sync.maxPruneShare ?? base.sync.maxPruneShare,
    // Only --force-prune turns it on: a file cannot.
    forcePrune: base.sync.forcePrune,
    writeFinishMs: duration(sync.writeFinish, base.sync.writeFinishMs),
  };
}

function resolveWebhooks(
  webhooks: NonNullable<SettingsFile['webhooks']>,
  base: OperatorSettings,
): OperatorSettings['webhooks'] {
  return {
    // Written as the URL parser prints it, so the same receiver is always spelt one way.
    urls: (webhooks.urls ?? base.webhooks.urls).map((url) => new URL(url).toString()),
    queueSize: webhooks.queueSize ?? base.webhooks.queueSize,
    maxAttempts: webhooks.maxAttempts ?? base.webhooks.maxAttempts,
    retryDelayMs: duration(webhooks.retryDelay, base.webhooks.retryDelayMs),
    timeoutMs: duration(webhooks.timeout, base.webhooks.timeoutMs),
    ...(webhooks.secret === undefined ? {} : { secret: webhooks.secret }),
  };
}

function resolveAdmission(
  admission: NonNullable<SettingsFile['admission']>,
  base: OperatorSettings,
): OperatorSettings['admission'] {
  const resolved: OperatorSettings['admission'] = {
    unlimitedContainerBytes: memory(admission.unlimitedContainerMemory, base.admission.unlimitedContainerBytes),
  };
  if (admission.memoryLimit !== undefined) resolved.memoryLimitBytes = memory(admission.memoryLimit, 0);
  return resolved;
}
