import { leaseResources } from '../model/lease-resources.js';
import type { OperatorSettings, Prices } from '../config/settings.js';
import type { LeaseSpec } from '../model/types.js';

// What a lease costs: (cores × price per vCPU-second + GiB × price per GiB-second) ×
// seconds, as Cloud Run bills instances.
//
// Amounts are rounded to 6 decimal places (a millionth of the currency unit, half away
// from zero): at the default prices a 250m / 256Mi lease costs about $0.0000066 a second,
// so rounding to cents would bill most leases nothing, while finer digits are noise of
// binary floating point. Sums are made in whole millionths so that adding many rounded
// costs never drifts (0.1 + 0.2 is 0.3 here).

export const COST_DECIMALS = 6;
const SCALE = 10 ** COST_DECIMALS;
const GIB = 2 ** 30;

export function roundCost(amount: number): number {
  return (Math.sign(amount) * Math.round(Math.abs(amount) * SCALE)) / SCALE;
}

export function leaseCost(
  runtimeSeconds: number,
  cpuMillis: number,
  memoryBytes: number,
  prices: Pick<Prices, 'perVcpuSecond' | 'perGibSecond'>,
): number {
  for (const [name, value] of Object.entries({
    runtimeSeconds,
    cpuMillis,
    memoryBytes,
    perVcpuSecond: prices.perVcpuSecond,
    perGibSecond: prices.perGibSecond,
  })) {
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`leaseCost: ${name} must be a finite number of at least 0, got ${value}`);
  }
  const perSecond = (cpuMillis / 1000) * prices.perVcpuSecond + (memoryBytes / GIB) * prices.perGibSecond;
  return roundCost(perSecond * runtimeSeconds);
}

/** What a lease will cost if it runs its whole ttl: `status.estimatedCost`, set at creation. */
export function estimatedLeaseCost(
  spec: LeaseSpec,
  settings: Pick<OperatorSettings, 'leaseDefaults' | 'prices'>,
): number {
  const { ttlMs, cpuMillis, memoryBytes } = leaseResources(spec, settings);
  return leaseCost(ttlMs / 1000, cpuMillis, memoryBytes, settings.prices);
}

/** Adds rounded amounts exactly (in millionths). */
export function sumCosts(amounts: Iterable<number>): number {
  let micros = 0;
  for (const amount of amounts) micros += Math.round(amount * SCALE);
  return micros / SCALE;
}

/** Seconds between two instants, to the millisecond; never negative (a clock step back bills nothing). */
export function runtimeSecondsBetween(startedAt: Date, endedAt: Date): number {
  return Math.max(0, endedAt.getTime() - startedAt.getTime()) / 1000;
}
