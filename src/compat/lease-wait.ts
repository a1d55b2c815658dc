import type { LeaseObject } from '../model/types.js';
import type { ObjectStore } from '../store/store.js';
import { CompatError } from './errors.js';

// The earlier systems answered a provision with a running container; Luma's Lease is
// admitted at once and started by the controller. Their routes wait, bounded, for that.

const SETTLED = new Set(['Active', 'Expired', 'Released', 'Failed']);
export const LEASE_WAIT_MS = 60_000;

/** The lease once it is Active; a CompatError when it failed, went away or took too long. */
export function waitForActiveLease(store: ObjectStore, name: string, timeoutMs = LEASE_WAIT_MS): Promise<LeaseObject> {
  return new Promise((resolve, reject) => {
    const settle = (lease: LeaseObject | undefined): boolean => {
      if (!lease) return finish(new CompatError(500, `lease "${name}" was deleted before it started`));
      const phase = lease.status?.phase ?? '';
      if (!SETTLED.has(phase)) return false;
      if (phase === 'Active') return finish(lease);
      const reason = lease.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? phase;
      return finish(new CompatError(500, `the container could not be started: ${reason}`));
    };
    const finish = (outcome: LeaseObject | CompatError): true => {
      clearTimeout(timer);
      unwatch();
      if (outcome instanceof CompatError) reject(outcome);
      else resolve(outcome);
      return true;
    };
    const timer = setTimeout(
      () =>
        finish(
          new CompatError(
            504,
            `lease "${name}" did not start within ${timeoutMs / 1000} s; it stays, see luma get lease ${name}`,
          ),
        ),
      timeoutMs,
    );
    const unwatch = store.watch((event) => {
      if (event.object.kind !== 'Lease' || event.object.metadata.name !== name) return;
      // Events are shared by every listener: the caller gets its own copy.
      settle(event.type === 'DELETED' ? undefined : structuredClone(event.object));
    });
    settle(store.get('Lease', name));
  });
}
