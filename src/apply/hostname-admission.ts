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

/** Objects as they will be after the batch, looked up by name and by hostname. */
export interface HostnameView {
  project(name: string): ProjectObject | undefined;
  /** With its stored status: an applied lease keeps it. */
  lease(name: string): LeaseObject | undefined;
  /** The project declaring `host`, if any. */
  projectDeclaring(host: string): string | undefined;
  leasesOf(project: string): LeaseObject[];
}

export interface HostnameIssue {
  /** The batch's object the issue is about. */
  object: LumaObject;
  path: FieldPath;
  message: string;
}

function isEnded(lease: LeaseObject | undefined): boolean {
  return ENDED_PHASES.has(lease?.status?.phase ?? '');
}

/** The lease (not ended) reached at `host`: its name is the first label, its project's first hostname the rest. */
export function leaseAt(view: HostnameView, host: string): LeaseObject | undefined {
  const dot = host.indexOf('.');
  const lease = dot > 0 ? view.lease(host.slice(0, dot)) : undefined;
  if (!lease || isEnded(lease)) return undefined;
  const project = view.project(lease.spec.project);
  return project && leaseHostname(lease.metadata.name, project) === host ? lease : undefined;
}

/** Issues about the batch's objects only: a stored pair that already collides is not this apply's doing. */
export function leaseHostnameIssues(view: HostnameView, batch: readonly LumaObject[]): HostnameIssue[] {
  const issues: HostnameIssue[] = [];
  for (const object of batch) {
    // An ended lease has no route any more: applying it again takes no hostname.
    if (object.kind === 'Lease' && !isEnded(view.lease(object.metadata.name))) {
      const project = view.project(object.spec.project);
      const host = project ? leaseHostname(object.metadata.name, project) : undefined;
      const owner = host === undefined ? undefined : view.projectDeclaring(host);
      if (host !== undefined && owner !== undefined) {
        issues.push({
          object,
          path: ['metadata', 'name'],
          message: `this lease would be reached at "${host}", a hostname project "${owner}" declares; choose another lease name`,
        });
      }
    }
    if (object.kind === 'Project') {
      issues.push(...movedLeaseIssues(object, view));
      object.spec.hostnames.forEach((host, index) => {
        const lease = leaseAt(view, host);
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
function movedLeaseIssues(project: ProjectObject, view: HostnameView): HostnameIssue[] {
  const issues: HostnameIssue[] = [];
  for (const lease of view.leasesOf(project.metadata.name)) {
    if (isEnded(lease)) continue;
    const host = leaseHostname(lease.metadata.name, project);
    const owner = view.projectDeclaring(host);
    if (owner === undefined) continue;
    issues.push({
      object: project,
      path: ['spec', 'hostnames', 0],
      message: `lease "${lease.metadata.name}" of this project would be reached at "${host}", a hostname project "${owner}" declares`,
    });
  }
  return issues;
}
