import { parseCpu, parseDuration, parseMemory } from './quantities.js';
import type { LeaseSpec } from './types.js';

// A Lease's spec read as numbers with the operator's defaults filled in: what admission
// prices and bounds, what the lease reconciler gives its container, what a bill counts.
// The Lease counterpart of project-settings.ts.

/** What a Lease without `spec.resources` gets (operator settings leases.defaultCpu and defaultMemory). */
export interface LeaseDefaults {
  cpuMillis: number;
  memoryBytes: number;
}

export interface LeaseResources {
  ttlMs: number;
  cpuMillis: number;
  memoryBytes: number;
}

/** The spec must have passed validation; a quantity that does not parse throws QuantityError. */
export function leaseResources(spec: LeaseSpec, settings: { leaseDefaults: LeaseDefaults }): LeaseResources {
  return {
    ttlMs: parseDuration(spec.ttl),
    cpuMillis: spec.resources?.cpu !== undefined ? parseCpu(spec.resources.cpu) : settings.leaseDefaults.cpuMillis,
    memoryBytes:
      spec.resources?.memory !== undefined ? parseMemory(spec.resources.memory) : settings.leaseDefaults.memoryBytes,
  };
}
