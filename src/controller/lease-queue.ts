import type { LeaseObject, LeaseStatus } from '../model/types.js';

// Who may have a container now: leases over a cap wait, and are admitted first come,
// first served (by creation time) as places free up. A lease held back only by its own
// project's cap does not hold back leases of other projects.

export interface LeaseCaps {
  /** Leases Active or starting at once, across all projects (operator setting leases.maxActive). */
  total: number;
  /** A project's own cap (spec.leases.maxConcurrent), if it has one. */
  perProject: (project: string) => number | undefined;
}

export type AdmissionVerdict = { admitted: true } | { admitted: false; reason: string };

export function isEnded(status: LeaseStatus): boolean {
  return status.phase === 'Expired' || status.phase === 'Released' || status.phase === 'Failed';
}

function byArrival(a: LeaseObject, b: LeaseObject): number {
  const created = (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '');
  return created !== 0 ? created : a.metadata.name.localeCompare(b.metadata.name);
}

export function admitInOrder(leases: readonly LeaseObject[], name: string, caps: LeaseCaps): AdmissionVerdict {
  const live = leases.filter((lease) => !isEnded(lease.status ?? {}));
  const perProject = new Map<string, number>();
  let total = 0;
  for (const lease of live) {
    if (!lease.status?.admittedAt) continue;
    total += 1;
    perProject.set(lease.spec.project, (perProject.get(lease.spec.project) ?? 0) + 1);
  }
  const queue = live.filter((lease) => !lease.status?.admittedAt && !lease.metadata.deletionTimestamp).sort(byArrival);
  let ahead = 0;
  for (const lease of queue) {
    const project = lease.spec.project;
    const projectCap = caps.perProject(project);
    const projectCount = perProject.get(project) ?? 0;
    const totalFull = total >= caps.total;
    const projectFull = projectCap !== undefined && projectCount >= projectCap;
    if (lease.metadata.name === name) {
      if (!totalFull && !projectFull) return { admitted: true };
      const queued = ahead > 0 ? `; ${ahead} lease(s) ahead in the queue` : '';
      return {
        admitted: false,
        reason: projectFull
          ? `${projectCount} of ${projectCap} leases of project "${project}" are active (its spec.leases.maxConcurrent)${queued}`
          : `${total} of ${caps.total} leases are active (operator setting leases.maxActive)${queued}`,
      };
    }
    if (!totalFull && !projectFull) {
      // It comes first: count it as admitted.
      total += 1;
      perProject.set(project, projectCount + 1);
    } else if (!projectFull || project === leases.find((other) => other.metadata.name === name)?.spec.project) {
      ahead += 1;
    }
  }
  // Not in the queue (ended, deleting or unknown): nothing to admit.
  return { admitted: false, reason: `lease "${name}" is not waiting` };
}
