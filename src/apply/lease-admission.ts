import type { OperatorSettings } from '../config/settings.js';
import type { FieldPath } from '../model/field-path.js';
import { formatCpu, formatDuration, formatMemory, parseCpu, parseDuration, parseMemory } from '../model/quantities.js';
import type { LeaseObject } from '../model/types.js';

// The operator's rules for Leases: ttl and resources within bounds, caps on how many
// are active, and how far a renewal may go. Pure functions: apply.ts turns their issues
// into file:line:column errors, and the lease reconciler calls the same rules.

export { checkImageAllowed, type ImageDecision } from './image-admission.js';

/** A problem with one field of one object, before it is given a file position. */
export interface AdmissionIssue {
  path: FieldPath;
  message: string;
}

export type LeaseBoundsSettings = Pick<OperatorSettings, 'leaseBounds'>;

/**
 * Lease bounds are set in minutes (5m–120m by default) and are worded so: `120m`
 * rather than `2h`, so that a message shows the number the operator wrote.
 */
export function formatLeaseDuration(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000}m` : formatDuration(ms);
}

interface Bound {
  path: FieldPath;
  input: string | undefined;
  parse: (input: string) => number;
  format: (value: number) => string;
  min: number;
  max: number;
  minKey: string;
  maxKey: string;
}

export function checkLeaseAgainstBounds(lease: LeaseObject, settings: LeaseBoundsSettings): AdmissionIssue[] {
  const bounds = settings.leaseBounds;
  const checks: Bound[] = [
    {
      path: ['spec', 'ttl'],
      input: lease.spec.ttl,
      parse: parseDuration,
      format: formatLeaseDuration,
      min: bounds.minTtlMs,
      max: bounds.maxTtlMs,
      minKey: 'minTtl',
      maxKey: 'maxTtl',
    },
    {
      path: ['spec', 'resources', 'cpu'],
      input: lease.spec.resources?.cpu,
      parse: parseCpu,
      format: formatCpu,
      min: bounds.minCpuMillis,
      max: bounds.maxCpuMillis,
      minKey: 'minCpu',
      maxKey: 'maxCpu',
    },
    {
      path: ['spec', 'resources', 'memory'],
      input: lease.spec.resources?.memory,
      parse: parseMemory,
      format: formatMemory,
      min: bounds.minMemoryBytes,
      max: bounds.maxMemoryBytes,
      minKey: 'minMemory',
      maxKey: 'maxMemory',
    },
  ];
  const issues: AdmissionIssue[] = [];
  for (const check of checks) {
    // Absent resources get the operator's defaults, which are inside the bounds by construction.
    if (check.input === undefined) continue;
    const value = check.parse(check.input);
    if (value > check.max) {
      issues.push({
        path: check.path,
        message: `${check.input} is above the maximum of ${check.format(check.max)} (operator setting leases.${check.maxKey})`,
      });
    } else if (value < check.min) {
      issues.push({
        path: check.path,
        message: `${check.input} is below the minimum of ${check.format(check.min)} (operator setting leases.${check.minKey})`,
      });
    }
  }
  return issues;
}

// ---------- renewal ----------

/** A lease lives at most `leases.maxTtl` from its start, however often it is renewed. */
export function maxRenewalExpiry(startedAt: Date, settings: LeaseBoundsSettings): Date {
  return new Date(startedAt.getTime() + settings.leaseBounds.maxTtlMs);
}

export type RenewalDecision = { ok: true; expiresAt: Date } | { ok: false; error: string };

/** Extends `currentExpiresAt` by `extensionMs`, or says why not, naming the maximum. */
export function checkRenewal(
  startedAt: Date,
  currentExpiresAt: Date,
  extensionMs: number,
  settings: LeaseBoundsSettings,
): RenewalDecision {
  if (!Number.isFinite(extensionMs) || extensionMs <= 0) {
    return {
      ok: false,
      error: `a renewal must extend the lease by a duration greater than 0, got ${String(extensionMs)} ms`,
    };
  }
  const expiresAt = new Date(currentExpiresAt.getTime() + extensionMs);
  const latest = maxRenewalExpiry(startedAt, settings);
  if (expiresAt.getTime() > latest.getTime()) {
    const lifetime = formatLeaseDuration(expiresAt.getTime() - startedAt.getTime());
    return {
      ok: false,
      error:
        `renewing by ${formatLeaseDuration(extensionMs)} would make the lease last ${lifetime}, above the maximum of ` +
        `${formatLeaseDuration(settings.leaseBounds.maxTtlMs)} (operator setting leases.maxTtl); it can run until ${latest.toISOString()} at most`,
    };
  }
  return { ok: true, expiresAt };
}
