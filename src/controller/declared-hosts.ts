import { leaseHostname } from '../apply/hostname-admission.js';
import type { ObjectStore } from '../store/store.js';
import type { DeclaredHosts } from './host-moves.js';
import { leaseOfService } from './lease-reconciler.js';
import { isEnded } from './lease-queue.js';

// The hosts each proxy service should hold according to the store: a project's
// spec.hostnames, a lease's `<lease>.<first project hostname>`. An object being deleted,
// or an ended lease, declares none. A service that is neither (deployed by hand with
// `luma-proxy deploy`) is not the controller's to move.

export function declaredHostsIn(store: ObjectStore): DeclaredHosts {
  return (service) => {
    const leaseName = leaseOfService(service);
    if (leaseName !== undefined) return leaseHosts(store, leaseName);
    const project = store.get('Project', service);
    if (!project) return undefined;
    return project.metadata.deletionTimestamp ? [] : project.spec.hostnames;
  };
}

function leaseHosts(store: ObjectStore, name: string): string[] {
  const lease = store.get('Lease', name);
  if (!lease || lease.metadata.deletionTimestamp || isEnded(lease.status ?? {})) return [];
  const project = store.get('Project', lease.spec.project);
  if (!project || project.metadata.deletionTimestamp) return [];
  return [leaseHostname(lease.metadata.name, project)];
}
