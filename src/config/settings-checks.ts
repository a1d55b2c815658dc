import type { FieldIssue, FieldPath } from '../model/field-path.js';
import { imagePatternProblem } from '../model/image-pattern.js';
import { formatDuration } from '../model/quantities.js';
import { CPU, Checks, DURATION, LIMITS, MEMORY, type Quantity } from '../model/semantic-checks.js';
import { quote } from '../model/wording.js';
import { DEFAULT_SETTINGS } from './settings-defaults.js';
import { CompatSettingsError, compatFailure, parseCompatSettings } from '../compat/settings.js';
import { webhookSecretProblem } from '../events/webhook-signature.js';

// Rules of the operator settings that schemas/settings.schema.json cannot state:
// quantities read as numbers and kept within bounds, lease minimums against maximums,
// defaults within the bounds, image patterns and webhook URLs. Like a manifest's
// semantic checks, they skip what the schema already reported.

/** A heartbeat more often than this would only add load. */
const MIN_HEARTBEAT_MS = 100;

const POSITIVE_DURATIONS: FieldPath[] = [
  // 0 would be a resync every millisecond: node runs a 0 ms interval as 1 ms.
  ['resyncInterval'],
  ['leases', 'minTtl'],
  ['leases', 'maxTtl'],
  ['webhooks', 'retryDelay'],
  ['webhooks', 'timeout'],
];

const OTHER_DURATIONS: FieldPath[] = [
  ['defaultIdleTimeout'],
  ['stopTimeout'],
  ['stoppedRetention'],
  ['leases', 'gracePeriod'],
  ['pool', 'batchSpacing'],
  ['sync', 'debounce'],
  ['sync', 'emptyGracePeriod'],
  ['sync', 'writeFinish'],
];

/**
 * Durations that become a node timer's delay. Node runs a delay above 2^31-1 ms (24.8
 * days) as 1 ms, with only a warning: `resyncInterval: 600h` would resync every
 * millisecond. A round bound below that.
 */
const MAX_TIMER_DURATION_MS = 576 * 3_600_000;
const TIMER_DURATIONS: FieldPath[] = [
  ['resyncInterval'],
  ['logHeartbeatInterval'],
  ['webhooks', 'retryDelay'],
  ['webhooks', 'timeout'],
  ['pool', 'batchSpacing'],
  ['sync', 'debounce'],
  ['sync', 'writeFinish'],
];

function checkTimerDurations(checks: Checks): void {
  for (const path of TIMER_DURATIONS) {
    const value = checks.quantity(path, DURATION);
    if (value !== undefined && value > MAX_TIMER_DURATION_MS)
      checks.report(
        path,
        `expected at most ${formatDuration(MAX_TIMER_DURATION_MS)} (a timer cannot wait longer), got ${quote(checks.value(path))}`,
      );
  }
}

export function settingsIssues(data: unknown, already: readonly FieldPath[]): FieldIssue[] {
  // CPU and memory may be plain YAML numbers here (cores, bytes).
  const checks = new Checks(data, already, true);
  for (const path of OTHER_DURATIONS) checks.quantity(path, DURATION);
  for (const path of POSITIVE_DURATIONS) {
    if (checks.quantity(path, DURATION) === 0)
      checks.report(path, `expected a duration greater than 0, got ${quote(checks.value(path))}`);
  }
  const heartbeat = checks.quantity(['logHeartbeatInterval'], DURATION);
  if (heartbeat !== undefined && heartbeat < MIN_HEARTBEAT_MS)
    checks.report(
      ['logHeartbeatInterval'],
      `expected at least ${formatDuration(MIN_HEARTBEAT_MS)}, got ${quote(checks.value(['logHeartbeatInterval']))}`,
    );
  checkTimerDurations(checks);
  for (const path of [['defaultMemory'], ['admission', 'memoryLimit'], ['admission', 'unlimitedContainerMemory']])
    checks.quantity(path, MEMORY, LIMITS.memoryBytes);
  checkLeaseBounds(checks);
  checkAllowlist(checks);
  checkWebhookUrls(checks);
  checkWebhookSecret(checks);
  checkCompat(checks);
  return checks.issues;
}

interface Bounded {
  quantity: Quantity;
  range: { min: number; max: number };
  min: string;
  max: string;
  value?: string;
  defaults: { min: number; max: number; value?: number };
}

const LEASE_BOUNDS: Bounded[] = [
  {
    quantity: DURATION,
    range: { min: 0, max: Infinity },
    min: 'minTtl',
    max: 'maxTtl',
    defaults: { min: DEFAULT_SETTINGS.leaseBounds.minTtlMs, max: DEFAULT_SETTINGS.leaseBounds.maxTtlMs },
  },
  {
    quantity: CPU,
    range: LIMITS.cpuMillis,
    min: 'minCpu',
    max: 'maxCpu',
    value: 'defaultCpu',
    defaults: {
      min: DEFAULT_SETTINGS.leaseBounds.minCpuMillis,
      max: DEFAULT_SETTINGS.leaseBounds.maxCpuMillis,
      value: DEFAULT_SETTINGS.leaseDefaults.cpuMillis,
    },
  },
  {
    quantity: MEMORY,
    range: LIMITS.memoryBytes,
    min: 'minMemory',
    max: 'maxMemory',
    value: 'defaultMemory',
    defaults: {
      min: DEFAULT_SETTINGS.leaseBounds.minMemoryBytes,
      max: DEFAULT_SETTINGS.leaseBounds.maxMemoryBytes,
      value: DEFAULT_SETTINGS.leaseDefaults.memoryBytes,
    },
  },
];

/** Each minimum at most its maximum, each default within both, against the built-in values the file leaves out. */
function checkLeaseBounds(checks: Checks): void {
  for (const bounded of LEASE_BOUNDS) {
    const read = (key: string): number | undefined =>
      checks.quantity(['leases', key], bounded.quantity, bounded.range.max === Infinity ? undefined : bounded.range);
    const given = { min: read(bounded.min), max: read(bounded.max) };
    const min = given.min ?? bounded.defaults.min;
    const max = given.max ?? bounded.defaults.max;
    const show = bounded.quantity.format;
    if (min > max) {
      // `maxTtl: 1m` alone is wrong against the default minimum, not the other way round.
      if (given.max !== undefined && given.min === undefined)
        checks.report(
          ['leases', bounded.max],
          `expected at least leases.${bounded.min} (${show(min)}), got ${show(max)}`,
        );
      else
        checks.report(
          ['leases', bounded.min],
          `expected at most leases.${bounded.max} (${show(max)}), got ${show(min)}`,
        );
      continue;
    }
    if (bounded.value === undefined) continue;
    const givenValue = read(bounded.value);
    const value = givenValue ?? bounded.defaults.value ?? min;
    if (value >= min && value <= max) continue;
    const origin =
      givenValue === undefined ? ` (the built-in default; set leases.${bounded.value} within the bounds)` : '';
    checks.report(
      ['leases', bounded.value],
      `expected a value between leases.${bounded.min} (${show(min)}) and leases.${bounded.max} (${show(max)}), got ${show(value)}${origin}`,
    );
  }
}

function checkAllowlist(checks: Checks): void {
  const list = checks.value(['imageAllowlist']);
  if (!Array.isArray(list)) return;
  list.forEach((pattern: unknown, index) => {
    const path = ['imageAllowlist', index];
    if (typeof pattern !== 'string' || checks.reported(path)) return;
    const problem = imagePatternProblem(pattern);
    if (problem !== undefined) checks.report(path, problem);
  });
}

function checkWebhookUrls(checks: Checks): void {
  const urls = checks.value(['webhooks', 'urls']);
  if (!Array.isArray(urls)) return;
  urls.forEach((url: unknown, index) => {
    const path = ['webhooks', 'urls', index];
    if (typeof url !== 'string' || checks.reported(path) || URL.canParse(url)) return;
    checks.report(path, `expected an http:// or https:// URL, got ${quote(url)}`);
  });
}

function checkWebhookSecret(checks: Checks): void {
  const path = ['webhooks', 'secret'];
  const secret = checks.value(path);
  if (typeof secret !== 'string' || checks.reported(path)) return;
  const problem = webhookSecretProblem(secret);
  // The problem never repeats the secret: error output may be shared.
  if (problem !== undefined) checks.report(path, problem);
}

/** The compat section has its own reader; its first problem is reported where it lies. */
function checkCompat(checks: Checks): void {
  const section = checks.value(['compat']);
  if (section === undefined || section === null || checks.reported(['compat'])) return;
  try {
    parseCompatSettings(section, compatFailure);
  } catch (error) {
    if (!(error instanceof CompatSettingsError)) throw error;
    checks.report(['compat', ...compatKeyPath(error.key)], error.message);
  }
}

/** `containerLease.allowedOrigins[0]` → ['containerLease', 'allowedOrigins', 0]. */
function compatKeyPath(key: string): FieldPath {
  return key
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((part) => part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}
