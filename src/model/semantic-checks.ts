import { isWithin, valueAt, type FieldIssue, type FieldPath } from './field-path.js';
import {
  QuantityError,
  formatCpu,
  formatDuration,
  formatMemory,
  parseCpu,
  parseDuration,
  parseMemory,
} from './quantities.js';
import { checkSecretValues } from './secret-values.js';
import type { Kind } from './types.js';
import { quote } from './wording.js';

// Rules a JSON Schema cannot state: quantities read as numbers and kept within bounds,
// and fields compared with each other. They run after the schema, on fields the schema
// found nothing wrong with, so that one mistake gives one message.

/** What a manifest may ask for, whoever runs Luma. Operator settings narrow some of these. */
export const LIMITS = {
  idleTimeoutMs: { min: 1_000, max: 24 * 3_600_000 },
  startupTimeoutMs: { min: 1_000, max: 10 * 60_000 },
  /** Cloud Run's request timeout bounds. */
  requestTimeoutMs: { min: 1_000, max: 3_600_000 },
  cpuMillis: { min: 10, max: 64_000 },
  memoryBytes: { min: 6 * 2 ** 20, max: 2 ** 40 },
} as const;

export interface Range {
  min: number;
  max: number;
}

export interface Quantity {
  /** How a range is worded: "expected a duration between 1s and 24h". */
  noun: string;
  parse: (input: string) => number;
  format: (value: number) => string;
}

export const DURATION: Quantity = { noun: 'a duration', parse: parseDuration, format: formatDuration };
export const CPU: Quantity = { noun: 'a CPU quantity', parse: parseCpu, format: formatCpu };
export const MEMORY: Quantity = { noun: 'a memory size', parse: parseMemory, format: formatMemory };

/** `already` holds the paths the schema complained about; nothing at or below them is checked again. */
export function semanticIssues(kind: Kind, data: unknown, already: readonly FieldPath[]): FieldIssue[] {
  const checks = new Checks(data, already);
  switch (kind) {
    case 'Project':
      checkProject(checks);
      break;
    case 'Lease':
      checkLease(checks);
      break;
    case 'Image':
      break;
    case 'Secret':
      checkSecretValues(checks);
      break;
  }
  return checks.issues;
}

function checkProject(checks: Checks): void {
  const idleTimeout = checks.quantity(['spec', 'scaling', 'idleTimeout'], DURATION, LIMITS.idleTimeoutMs);
  const pauseAfterPath = ['spec', 'scaling', 'pauseAfter'];
  const pauseAfter = checks.quantity(pauseAfterPath, DURATION);
  if (pauseAfter === 0) {
    checks.report(pauseAfterPath, `expected a duration greater than 0, got ${quote(checks.value(pauseAfterPath))}`);
  } else if (pauseAfter !== undefined && idleTimeout !== undefined && pauseAfter >= idleTimeout) {
    // Without a declared idleTimeout the operator's default applies, unknown here;
    // resolveProjectSettings ignores a pauseAfter that would come too late.
    checks.report(
      pauseAfterPath,
      `expected a duration shorter than idleTimeout (${formatDuration(idleTimeout)}), got ${quote(checks.value(pauseAfterPath))}`,
    );
  }
  checks.quantity(['spec', 'readiness', 'startupTimeout'], DURATION, LIMITS.startupTimeoutMs);
  checks.quantity(['spec', 'timeout'], DURATION, LIMITS.requestTimeoutMs);
  const maxQueuedPath = ['spec', 'scaling', 'maxQueued'];
  if (checks.value(maxQueuedPath) !== undefined && checks.value(['spec', 'scaling', 'maxConcurrency']) === undefined)
    checks.report(maxQueuedPath, 'maxQueued bounds the queue of maxConcurrency: set scaling.maxConcurrency too');
  checkResources(checks);
  checkRolloutSteps(checks);

  const minPath = ['spec', 'scaling', 'minInstances'];
  const min = checks.integer(minPath);
  const max = checks.integer(['spec', 'scaling', 'maxInstances']);
  if (min !== undefined && max !== undefined && min > max)
    checks.report(minPath, `expected at most maxInstances (${max}), got ${min}`);
  checkTraffic(checks);
}

/** spec.traffic as a whole: percents summing to 100, tags used once, revisions of this very project. */
function checkTraffic(checks: Checks): void {
  const path = ['spec', 'traffic'];
  const entries = checks.value(path);
  if (!Array.isArray(entries) || checks.reported(path)) return;
  const project = checks.value(['metadata', 'name']);
  const tags = new Map<string, number>();
  let sum = 0;
  entries.forEach((entry: unknown, index) => {
    if (checks.reported([...path, index]) || typeof entry !== 'object' || entry === null) return;
    const { percent, tag, revisionName } = entry as { percent?: unknown; tag?: unknown; revisionName?: unknown };
    if (typeof percent === 'number') sum += percent;
    if (typeof revisionName === 'string' && typeof project === 'string' && !isRevisionOf(revisionName, project))
      checks.report(
        [...path, index, 'revisionName'],
        `expected a revision of project ${quote(project)} (like "${project}-1"), got ${quote(revisionName)}`,
      );
    if (typeof tag !== 'string') return;
    const first = tags.get(tag);
    if (first !== undefined)
      checks.report([...path, index, 'tag'], `tag ${quote(tag)} is already given at spec.traffic[${first}]`);
    else tags.set(tag, index);
  });
  if (sum !== 100) checks.report(path, `expected percents that sum to 100, got ${sum}`);
}

/** Revision names are `<project>-<number>` (revisions.ts). */
function isRevisionOf(revision: string, project: string): boolean {
  return revision.startsWith(`${project}-`) && /^[1-9][0-9]*$/.test(revision.slice(project.length + 1));
}

/** A rollout only ever gives the new revision more of the traffic: each step's share exceeds the last. */
function checkRolloutSteps(checks: Checks): void {
  const steps = checks.value(['spec', 'rollout', 'steps']);
  if (!Array.isArray(steps)) return;
  let before: number | undefined;
  steps.forEach((_step, index) => {
    const path = ['spec', 'rollout', 'steps', index, 'percent'];
    const percent = checks.integer(path);
    if (percent !== undefined && before !== undefined && percent <= before)
      checks.report(path, `expected more than the step before (${before}), got ${percent}`);
    if (percent !== undefined) before = percent;
  });
}

function checkLease(checks: Checks): void {
  const ttlPath = ['spec', 'ttl'];
  if (checks.quantity(ttlPath, DURATION) === 0)
    checks.report(ttlPath, `expected a duration greater than 0, got ${quote(checks.value(ttlPath))}`);
  checks.quantity(['spec', 'idleTimeout'], DURATION, LIMITS.idleTimeoutMs);
  checkResources(checks);
}

function checkResources(checks: Checks): void {
  checks.quantity(['spec', 'resources', 'cpu'], CPU, LIMITS.cpuMillis);
  checks.quantity(['spec', 'resources', 'memory'], MEMORY, LIMITS.memoryBytes);
}

/** Field checks over one document, skipping what the schema already reported; the operator settings use it too. */
export class Checks {
  readonly issues: FieldIssue[] = [];

  /** `numbers`: a quantity may be a plain number (the operator settings); in a manifest it may not. */
  constructor(
    private readonly data: unknown,
    private readonly already: readonly FieldPath[],
    private readonly numbers = false,
  ) {}

  value(path: FieldPath): unknown {
    return valueAt(this.data, path);
  }

  report(path: FieldPath, message: string): void {
    this.issues.push({ path, message });
  }

  /**
   * The field read as a number, if it is there and fine; out-of-range values are reported
   * and still returned. A YAML number is read as written (cores, bytes) only when the
   * checks were told numbers may stand for quantities.
   */
  quantity(path: FieldPath, quantity: Quantity, range?: Range): number | undefined {
    const input = this.value(path);
    const readable = typeof input === 'string' || (this.numbers && typeof input === 'number');
    if (!readable || this.reported(path)) return undefined;
    let value: number;
    try {
      value = quantity.parse(String(input));
    } catch (error) {
      // The schema's pattern should have caught this; reporting it anyway keeps a
      // pattern that drifted from the parser from letting a bad value through.
      if (error instanceof QuantityError) {
        this.report(path, error.message);
        return undefined;
      }
      throw error;
    }
    if (range && (value < range.min || value > range.max)) {
      this.report(
        path,
        `expected ${quantity.noun} between ${quantity.format(range.min)} and ${quantity.format(range.max)}, got ${quote(input)}`,
      );
    }
    return value;
  }

  integer(path: FieldPath): number | undefined {
    const value = this.value(path);
    return typeof value === 'number' && Number.isInteger(value) && !this.reported(path) ? value : undefined;
  }

  /** Whether the schema already complained about this field or one around it. */
  reported(path: FieldPath): boolean {
    return this.already.some((reported) => isWithin(reported, path));
  }
}
