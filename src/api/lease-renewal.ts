import { checkRenewal, type LeaseBoundsSettings } from '../apply/lease-admission.js';
import { parseDuration, QuantityError } from '../model/quantities.js';
import type { LeaseObject } from '../model/types.js';
import type { ObjectStore } from '../store/store.js';

// `luma renew lease/NAME DURATION`: moves an Active lease's expiry later, never past
// `leases.maxTtl` from its start. The expiry lives in the lease's status; the change is a
// read-modify-write in turn with the controller's own status writes, so neither is lost.

export class RenewalError extends Error {
  constructor(
    readonly status: 404 | 409 | 422,
    message: string,
  ) {
    super(message);
    this.name = 'RenewalError';
  }
}

export async function renewLease(
  store: ObjectStore,
  name: string,
  extension: unknown,
  settings: LeaseBoundsSettings,
): Promise<LeaseObject> {
  if (typeof extension !== 'string') throw new RenewalError(422, 'body.extend: expected a duration such as 10m');
  let extensionMs: number;
  try {
    extensionMs = parseDuration(extension);
  } catch (error) {
    if (error instanceof QuantityError) throw new RenewalError(422, `body.extend: ${error.message}`);
    throw error;
  }
  let refusal: RenewalError | undefined;
  const renewed = await store.mutateStatus('Lease', name, (lease) => {
    const status = lease.status ?? {};
    if (lease.metadata.deletionTimestamp) {
      refusal = new RenewalError(409, `lease "${name}" is being released; it cannot be renewed`);
      return undefined;
    }
    if (status.phase !== 'Active' || !status.startedAt || !status.expiresAt || status.endedAt) {
      refusal = new RenewalError(
        409,
        `lease "${name}" is ${status.phase ?? 'Pending'}; only an Active lease can be renewed`,
      );
      return undefined;
    }
    const decision = checkRenewal(new Date(status.startedAt), new Date(status.expiresAt), extensionMs, settings);
    if (!decision.ok) {
      refusal = new RenewalError(422, `lease "${name}": ${decision.error}`);
      return undefined;
    }
    return { ...status, expiresAt: decision.expiresAt.toISOString() };
  });
  if (!renewed) throw new RenewalError(404, `lease "${name}" not found`);
  if (refusal) throw refusal;
  return renewed;
}
