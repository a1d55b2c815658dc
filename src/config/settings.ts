import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { imagePatternProblem } from '../model/image-pattern.js';
import {
  formatCpu,
  formatDuration,
  formatMemory,
  parseCpu,
  parseDuration,
  parseMemory,
  QuantityError,
} from '../model/quantities.js';
import { LIMITS } from '../model/semantic-checks.js';
import { DEFAULT_WEBHOOK_SETTINGS, type WebhookSettings } from '../events/webhooks.js';
import { webhookSecretProblem } from '../events/webhook-signature.js';
import { parseCompatSettings, type CompatSettings } from '../compat/settings.js';

// Operator settings (`--config FILE`): what the person running Luma decides, as opposed
// to what app owners declare in manifests. Every value is checked when the file is read,
// so a running Luma never meets a bound it cannot honour (a default outside its bounds,
// a minimum above its maximum).

export interface LeaseBounds {
  minTtlMs: number;
  maxTtlMs: number;
  minCpuMillis: number;
  maxCpuMillis: number;
  minMemoryBytes: number;
  maxMemoryBytes: number;
}

/** What a Lease without `spec.resources` gets. */
export interface LeaseDefaults {
  cpuMillis: number;
  memoryBytes: number;
}

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

export const DEFAULT_SETTINGS: OperatorSettings = {
  /** Idle timeout for projects that do not declare one. */
  defaultIdleTimeoutMs: 60_000,
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

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

const TOP_LEVEL_KEYS = [
  'defaultIdleTimeout',
  'defaultMemory',
  'resyncInterval',
  'stopTimeout',
  'stoppedRetention',
  'maxUploadBytes',
  'maxContextBytes',
  'maxContextEntries',
  'instance',
  'leases',
  'prices',
  'imageAllowlist',
  'pool',
  'logHeartbeatInterval',
  'sync',
  'webhooks',
  'admission',
  'compat',
];
const WEBHOOK_KEYS = ['urls', 'queueSize', 'maxAttempts', 'retryDelay', 'timeout', 'secret'];
const LEASE_KEYS = [
  'minTtl',
  'maxTtl',
  'minCpu',
  'maxCpu',
  'minMemory',
  'maxMemory',
  'defaultCpu',
  'defaultMemory',
  'maxActive',
  'gracePeriod',
];
const PRICE_KEYS = ['vcpuSecond', 'gibSecond', 'currency'];
const POOL_KEYS = ['batchSize', 'batchSpacing'];
const SYNC_KEYS = ['debounce', 'emptyGracePeriod', 'maxPruneShare', 'writeFinish'];
const ADMISSION_KEYS = ['memoryLimit', 'unlimitedContainerMemory'];

const INSTANCE_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;

/** Reads one file's values, each error naming the file and the key (`leases.maxTtl`). */
class SettingsReader {
  constructor(readonly file: string) {}

  fail(key: string, message: string): never {
    throw new SettingsError(`${this.file}: ${key}: ${message}`);
  }

  positiveInteger(key: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
      this.fail(key, `expected a positive whole number, got ${show(value)}`);
    return value;
  }

  duration(key: string, value: unknown): number {
    if (typeof value !== 'string') this.fail(key, `expected a duration such as 10s, got ${show(value)}`);
    return this.quantity(key, () => parseDuration(value));
  }

  positiveDuration(key: string, value: unknown): number {
    const ms = this.duration(key, value);
    if (ms <= 0) this.fail(key, `expected a duration greater than 0, got ${show(value)}`);
    return ms;
  }

  /** YAML reads `2` and `1.5` as numbers; as CPU quantities they are cores. */
  cpu(key: string, value: unknown): number {
    const millis = this.quantity(key, () => parseCpu(typeof value === 'number' ? String(value) : (value as string)));
    this.within(key, value, millis, LIMITS.cpuMillis, formatCpu, 'a CPU quantity');
    return millis;
  }

  /** A plain number is bytes, as in a manifest. */
  memory(key: string, value: unknown): number {
    const bytes = this.quantity(key, () => parseMemory(typeof value === 'number' ? String(value) : (value as string)));
    this.within(key, value, bytes, LIMITS.memoryBytes, formatMemory, 'a memory size');
    return bytes;
  }

  price(key: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      this.fail(key, `expected a number of at least 0 such as 0.000024, got ${show(value)}`);
    return value;
  }

  mapping(key: string, value: unknown): Record<string, unknown> {
    // `leases:` with nothing under it is YAML null: nothing set.
    if (value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value))
      this.fail(key, `expected a mapping of settings, got ${show(value)}`);
    return value as Record<string, unknown>;
  }

  unknown(section: string, key: string, known: readonly string[]): never {
    const where = section === '' ? '' : ` in ${section}`;
    throw new SettingsError(
      `${this.file}: unknown setting "${section === '' ? key : `${section}.${key}`}" (known${where}: ${known.join(', ')})`,
    );
  }

  private quantity(key: string, parse: () => number): number {
    try {
      return parse();
    } catch (error) {
      if (error instanceof QuantityError) this.fail(key, error.message);
      throw error;
    }
  }

  private within(
    key: string,
    input: unknown,
    value: number,
    range: { min: number; max: number },
    format: (value: number) => string,
    noun: string,
  ): void {
    if (value < range.min || value > range.max)
      this.fail(key, `expected ${noun} between ${format(range.min)} and ${format(range.max)}, got ${show(input)}`);
  }
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

export function parseSettings(text: string, file: string): Partial<OperatorSettings> {
  const document = parseDocument(text);
  if (document.errors.length > 0) throw new SettingsError(`${file}: ${document.errors[0]?.message ?? 'invalid YAML'}`);
  const raw: unknown = document.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new SettingsError(`${file}: expected a mapping of settings`);
  const read = new SettingsReader(file);
  const settings: Partial<OperatorSettings> = {};
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'defaultIdleTimeout':
        settings.defaultIdleTimeoutMs = read.duration(key, value);
        break;
      case 'defaultMemory':
        settings.defaultMemoryBytes = read.memory(key, value);
        break;
      case 'resyncInterval':
        settings.resyncIntervalMs = read.duration(key, value);
        break;
      case 'stopTimeout':
        settings.stopTimeoutSeconds = Math.ceil(read.duration(key, value) / 1000);
        break;
      case 'stoppedRetention':
        settings.stoppedRetentionMs = read.duration(key, value);
        break;
      case 'maxUploadBytes':
        settings.maxUploadBytes = read.positiveInteger(key, value);
        break;
      case 'maxContextBytes':
        settings.contextLimits = {
          ...(settings.contextLimits ?? DEFAULT_SETTINGS.contextLimits),
          maxUnpackedBytes: read.positiveInteger(key, value),
        };
        break;
      case 'maxContextEntries':
        settings.contextLimits = {
          ...(settings.contextLimits ?? DEFAULT_SETTINGS.contextLimits),
          maxEntries: read.positiveInteger(key, value),
        };
        break;
      case 'logHeartbeatInterval': {
        const interval = read.duration(key, value);
        if (interval < 100) read.fail(key, `expected at least 100ms, got ${show(value)}`);
        settings.logHeartbeatIntervalMs = interval;
        break;
      }
      case 'instance':
        if (typeof value !== 'string' || !INSTANCE_PATTERN.test(value))
          read.fail(key, `expected lower-case letters, digits and dashes (at most 40), got ${show(value)}`);
        settings.instance = value;
        break;
      case 'leases':
        Object.assign(settings, parseLeases(read, read.mapping(key, value)));
        break;
      case 'prices':
        settings.prices = parsePrices(read, read.mapping(key, value));
        break;
      case 'imageAllowlist':
        settings.imageAllowlist = parseAllowlist(read, value);
        break;
      case 'pool':
        Object.assign(settings, parsePool(read, read.mapping(key, value)));
        break;
      case 'sync':
        settings.sync = parseSync(read, read.mapping(key, value));
        break;
      case 'webhooks':
        settings.webhooks = parseWebhooks(read, read.mapping(key, value));
        break;
      case 'admission':
        settings.admission = parseAdmission(read, read.mapping(key, value));
        break;
      case 'compat':
        Object.assign(
          settings,
          parseCompatSettings(value, (at, message) => read.fail(`compat.${at}`, message)),
        );
        break;
      default:
        read.unknown('', key, TOP_LEVEL_KEYS);
    }
  }
  return settings;
}

type LeaseSettings = Pick<OperatorSettings, 'leaseBounds' | 'leaseDefaults' | 'maxActiveLeases' | 'leaseGracePeriodMs'>;

/** Values not in the file keep their defaults; the result is checked as a whole. */
function parseLeases(read: SettingsReader, raw: Record<string, unknown>): Partial<LeaseSettings> {
  const bounds = { ...DEFAULT_SETTINGS.leaseBounds };
  const defaults = { ...DEFAULT_SETTINGS.leaseDefaults };
  const result: Partial<LeaseSettings> = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = `leases.${name}`;
    switch (name) {
      case 'minTtl':
        bounds.minTtlMs = read.positiveDuration(key, value);
        break;
      case 'maxTtl':
        bounds.maxTtlMs = read.positiveDuration(key, value);
        break;
      case 'minCpu':
        bounds.minCpuMillis = read.cpu(key, value);
        break;
      case 'maxCpu':
        bounds.maxCpuMillis = read.cpu(key, value);
        break;
      case 'minMemory':
        bounds.minMemoryBytes = read.memory(key, value);
        break;
      case 'maxMemory':
        bounds.maxMemoryBytes = read.memory(key, value);
        break;
      case 'defaultCpu':
        defaults.cpuMillis = read.cpu(key, value);
        break;
      case 'defaultMemory':
        defaults.memoryBytes = read.memory(key, value);
        break;
      case 'maxActive':
        result.maxActiveLeases = read.positiveInteger(key, value);
        break;
      case 'gracePeriod':
        result.leaseGracePeriodMs = read.duration(key, value);
        break;
      default:
        read.unknown('leases', name, LEASE_KEYS);
    }
  }
  const given = new Set(Object.keys(raw));
  checkRange(read, given, { min: 'minTtl', max: 'maxTtl' }, bounds.minTtlMs, bounds.maxTtlMs, formatDuration);
  checkRange(read, given, { min: 'minCpu', max: 'maxCpu' }, bounds.minCpuMillis, bounds.maxCpuMillis, formatCpu);
  checkRange(
    read,
    given,
    { min: 'minMemory', max: 'maxMemory' },
    bounds.minMemoryBytes,
    bounds.maxMemoryBytes,
    formatMemory,
  );
  checkDefault(
    read,
    given,
    { value: 'defaultCpu', min: 'minCpu', max: 'maxCpu' },
    defaults.cpuMillis,
    bounds.minCpuMillis,
    bounds.maxCpuMillis,
    formatCpu,
  );
  checkDefault(
    read,
    given,
    { value: 'defaultMemory', min: 'minMemory', max: 'maxMemory' },
    defaults.memoryBytes,
    bounds.minMemoryBytes,
    bounds.maxMemoryBytes,
    formatMemory,
  );
  return { ...result, leaseBounds: bounds, leaseDefaults: defaults };
}

/** Names the key the file set: `maxTtl: 1m` alone is wrong against the default minimum, not the other way round. */
function checkRange(
  read: SettingsReader,
  given: Set<string>,
  keys: { min: string; max: string },
  min: number,
  max: number,
  format: (value: number) => string,
): void {
  if (min <= max) return;
  if (given.has(keys.max) && !given.has(keys.min))
    read.fail(`leases.${keys.max}`, `expected at least leases.${keys.min} (${format(min)}), got ${format(max)}`);
  read.fail(`leases.${keys.min}`, `expected at most leases.${keys.max} (${format(max)}), got ${format(min)}`);
}

function checkDefault(
  read: SettingsReader,
  given: Set<string>,
  keys: { value: string; min: string; max: string },
  value: number,
  min: number,
  max: number,
  format: (value: number) => string,
): void {
  if (value >= min && value <= max) return;
  const origin = given.has(keys.value) ? '' : ` (the built-in default; set leases.${keys.value} within the bounds)`;
  read.fail(
    `leases.${keys.value}`,
    `expected a value between leases.${keys.min} (${format(min)}) and leases.${keys.max} (${format(max)}), got ${format(value)}${origin}`,
  );
}

function parsePrices(read: SettingsReader, raw: Record<string, unknown>): Prices {
  const prices = { ...DEFAULT_SETTINGS.prices };
  for (const [name, value] of Object.entries(raw)) {
    const key = `prices.${name}`;
    switch (name) {
      case 'vcpuSecond':
        prices.perVcpuSecond = read.price(key, value);
        break;
      case 'gibSecond':
        prices.perGibSecond = read.price(key, value);
        break;
      case 'currency':
        if (typeof value !== 'string' || !CURRENCY_PATTERN.test(value))
          read.fail(key, `expected a three-letter currency code such as USD or EUR, got ${show(value)}`);
        prices.currency = value;
        break;
      default:
        read.unknown('prices', name, PRICE_KEYS);
    }
  }
  return prices;
}

function parseAllowlist(read: SettingsReader, value: unknown): string[] {
  if (!Array.isArray(value)) {
    read.fail(
      'imageAllowlist',
      `expected a list of image patterns such as [registry.example.com/**, busybox] (write [] to allow nothing, or leave the key out to allow every image), got ${show(value)}`,
    );
  }
  return value.map((pattern: unknown, index) => {
    const key = `imageAllowlist[${index}]`;
    if (typeof pattern !== 'string')
      read.fail(key, `expected an image pattern such as registry.example.com/team/*, got ${show(pattern)}`);
    const problem = imagePatternProblem(pattern);
    if (problem !== undefined) read.fail(key, problem);
    return pattern;
  });
}

function parsePool(
  read: SettingsReader,
  raw: Record<string, unknown>,
): Pick<OperatorSettings, 'poolBatchSize' | 'poolBatchSpacingMs'> {
  let poolBatchSize = DEFAULT_SETTINGS.poolBatchSize;
  let poolBatchSpacingMs = DEFAULT_SETTINGS.poolBatchSpacingMs;
  for (const [name, value] of Object.entries(raw)) {
    const key = `pool.${name}`;
    switch (name) {
      case 'batchSize':
        poolBatchSize = read.positiveInteger(key, value);
        break;
      case 'batchSpacing':
        poolBatchSpacingMs = read.duration(key, value);
        break;
      default:
        read.unknown('pool', name, POOL_KEYS);
    }
  }
  return { poolBatchSize, poolBatchSpacingMs };
}

function parseSync(read: SettingsReader, raw: Record<string, unknown>): SyncSettings {
  const sync = { ...DEFAULT_SETTINGS.sync };
  for (const [name, value] of Object.entries(raw)) {
    const key = `sync.${name}`;
    switch (name) {
      case 'debounce':
        sync.debounceMs = read.duration(key, value);
        break;
      case 'emptyGracePeriod':
        sync.emptyGracePeriodMs = read.duration(key, value);
        break;
      case 'maxPruneShare':
        if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1)
          read.fail(key, `expected a share greater than 0 and at most 1 such as 0.5, got ${show(value)}`);
        sync.maxPruneShare = value;
        break;
      case 'writeFinish':
        sync.writeFinishMs = read.duration(key, value);
        break;
      default:
        read.unknown('sync', name, SYNC_KEYS);
    }
  }
  return sync;
}

function parseAdmission(read: SettingsReader, raw: Record<string, unknown>): AdmissionSettings {
  const admission: AdmissionSettings = { ...DEFAULT_SETTINGS.admission };
  for (const [name, value] of Object.entries(raw)) {
    const key = `admission.${name}`;
    switch (name) {
      case 'memoryLimit':
        admission.memoryLimitBytes = read.memory(key, value);
        break;
      case 'unlimitedContainerMemory':
        admission.unlimitedContainerBytes = read.memory(key, value);
        break;
      default:
        read.unknown('admission', name, ADMISSION_KEYS);
    }
  }
  return admission;
}

function parseWebhooks(read: SettingsReader, raw: Record<string, unknown>): WebhookSettings {
  const webhooks: WebhookSettings = { ...DEFAULT_WEBHOOK_SETTINGS, urls: [] };
  for (const [name, value] of Object.entries(raw)) {
    const key = `webhooks.${name}`;
    switch (name) {
      case 'urls':
        if (!Array.isArray(value)) read.fail(key, `expected a list of http:// or https:// URLs, got ${show(value)}`);
        webhooks.urls = value.map((url: unknown, index) => webhookUrl(read, `${key}[${index}]`, url));
        break;
      case 'queueSize':
        webhooks.queueSize = read.positiveInteger(key, value);
        break;
      case 'maxAttempts':
        webhooks.maxAttempts = read.positiveInteger(key, value);
        break;
      case 'retryDelay':
        webhooks.retryDelayMs = read.positiveDuration(key, value);
        break;
      case 'timeout':
        webhooks.timeoutMs = read.positiveDuration(key, value);
        break;
      case 'secret': {
        const problem = typeof value === 'string' ? webhookSecretProblem(value) : 'expected a string';
        if (problem !== undefined) read.fail(key, problem);
        webhooks.secret = value as string;
        break;
      }
      default:
        read.unknown('webhooks', name, WEBHOOK_KEYS);
    }
  }
  return webhooks;
}

function webhookUrl(read: SettingsReader, key: string, value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    read.fail(key, `expected an http:// or https:// URL, got ${show(value)}`);
  return url.toString();
}

/** Defaults, then the config file, then LUMA_INSTANCE (so a test run can isolate itself). */
export async function loadSettings(
  configFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<OperatorSettings> {
  let fromFile: Partial<OperatorSettings> = {};
  if (configFile) {
    let text: string;
    try {
      text = await readFile(configFile, 'utf8');
    } catch (error) {
      throw new SettingsError(
        `cannot read the config file ${configFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
    fromFile = parseSettings(text, configFile);
  }
  // A copy: nothing a caller does to its settings may change the defaults.
  const settings: OperatorSettings = { ...structuredClone(DEFAULT_SETTINGS), ...fromFile };
  if (env.LUMA_INSTANCE) {
    if (!INSTANCE_PATTERN.test(env.LUMA_INSTANCE))
      throw new SettingsError(
        `LUMA_INSTANCE: expected lower-case letters, digits and dashes, got "${env.LUMA_INSTANCE}"`,
      );
    settings.instance = env.LUMA_INSTANCE;
  }
  return settings;
}
