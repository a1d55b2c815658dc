import type { FieldPath } from '../model/field-path.js';
import type { LeaseObject, LumaObject, ProjectObject } from '../model/types.js';

// A lease is reached at `<lease>.<first hostname of its project>`, a name no manifest
// declares. It must never be a hostname some project declares, or one of the two would
// take the other's traffic (or the lease's route be refused after its container started).
// Both directions are refused at admission: a Lease whose hostname a project declares,
// and a Project declaring the hostname of a lease not yet ended. Pure: admission.ts gives
// the issues their file positions.

const ENDED_PHASES: ReadonlySet<string> = new Set(['Expired', 'Released', 'Failed']);

/** Where a lease is reached through the proxy (the lease reconciler routes it so). */
export function leaseHostname(leaseName: string, project: Pick<ProjectObject, 'spec'>): string {
  return `${leaseName}.${project.spec.hostnames[0] ?? 'localhost'}`;
}

/** Objects by name as they will be after the batch. */
export interface HostnameView {
  projects: readonly ProjectObject[];
  leases: readonly LeaseObject[];
}

export interface HostnameIssue {
  /** The batch's object the issue is about. */
  object: LumaObject;
  path: FieldPath;
  message: string;
}

/** Issues about the batch's objects only: a stored pair that already collides is not this apply's doing. */
export function leaseHostnameIssues(view: HostnameView, batch: readonly LumaObject[]): HostnameIssue[] {
  const declaredBy = new Map<string, string>();
  for (const project of view.projects) for (const host of project.spec.hostnames) if (!declaredBy.has(host)) declaredBy.set(host, project.metadata.name);
  const leaseAt = new Map<string, LeaseObject>();
  const projects = new Map(view.projects.map((project) => [project.metadata.name, project]));
  const ended = new Set(view.leases.filter((lease) => ENDED_PHASES.has(lease.status?.phase ?? '')).map((lease) => lease.metadata.name));
  for (const lease of view.leases) {
    const project = projects.get(lease.spec.project);
    if (project && !ended.has(lease.metadata.name)) leaseAt.set(leaseHostname(lease.metadata.name, project), lease);
  }
  const issues: HostnameIssue[] = [];
  for (const object of batch) {
    // An ended lease has no route any more: applying it again takes no hostname.
    if (object.kind === 'Lease' && !ended.has(object.metadata.name)) {
      const project = projects.get(object.spec.project);
      const host = project ? leaseHostname(object.metadata.name, project) : undefined;
      const owner = host === undefined ? undefined : declaredBy.get(host);
      if (host !== undefined && owner !== undefined) {
        issues.push({ object, path: ['metadata', 'name'], message: `this lease would be reached at "${host}", a hostname project "${owner}" declares; choose another lease name` });
      }
    }
    if (object.kind === 'Project') {
      issues.push(...movedLeaseIssues(object, view.leases, ended, declaredBy));
      object.spec.hostnames.forEach((host, index) => {
        const lease = leaseAt.get(host);
        if (lease) {
          issues.push({
            object,
            path: ['spec', 'hostnames', index],
            message: `hostname "${host}" is where lease "${lease.metadata.name}" of project "${lease.spec.project}" is reached; hostnames of projects and leases must differ`,
          });
        }
      });
    }
  }
  return issues;
}

/** A project's first hostname moves its leases: none may land on a hostname a project declares. */
function movedLeaseIssues(project: ProjectObject, leases: readonly LeaseObject[], ended: ReadonlySet<string>, declaredBy: ReadonlyMap<string, string>): HostnameIssue[] {
  const issues: HostnameIssue[] = [];
  for (const lease of leases) {
    if (lease.spec.project !== project.metadata.name || ended.has(lease.metadata.name)) continue;
    const host = leaseHostname(lease.metadata.name, project);
    const owner = declaredBy.get(host);
    if (owner === undefined) continue;
    issues.push({ object: project, path: ['spec', 'hostnames', 0], message: `lease "${lease.metadata.name}" of this project would be reached at "${host}", a hostname project "${owner}" declares` });
  }
  return issues;
}
