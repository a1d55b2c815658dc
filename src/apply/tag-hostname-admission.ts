import type { LumaObject, ProjectObject } from '../model/types.js';
import { parseTagHostname, tagHostname, tagHostnames } from '../controller/traffic.js';
import { leaseAt, leaseHostname, type HostnameIssue, type HostnameView } from './hostname-admission.js';

// A tag of spec.traffic makes its revision reachable at `<tag>---<first hostname>`, a
// name no manifest declares. It must never be a hostname some project declares, nor
// where a lease is reached, or one would take the other's traffic. All directions are
// refused at admission, naming both: a project's tag against hostnames and leases, a
// project's hostname and a lease's against tags. Tags have no double hyphen (schema), so
// a name splits back into its tag and hostname one way only. Pure, like
// hostname-admission.ts; admission.ts gives the issues their file positions.

/** The project, other than `except`, whose tag is reached at `host`, and the tag. */
function taggedAt(view: HostnameView, host: string): { project: ProjectObject; tag: string } | undefined {
  const parts = parseTagHostname(host);
  const owner = parts === undefined ? undefined : view.projectDeclaring(parts.host);
  const project = owner === undefined ? undefined : view.project(owner);
  if (!parts || !project) return undefined;
  const tagged = (project.spec.traffic ?? []).some(
    (entry) => entry.tag === parts.tag && tagHostname(parts.tag, project) === host,
  );
  return tagged ? { project, tag: parts.tag } : undefined;
}

/** A project's tag hostnames against declared hostnames and leases. */
function tagIssues(project: ProjectObject, view: HostnameView): HostnameIssue[] {
  const issues: HostnameIssue[] = [];
  for (const { host, index } of tagHostnames(project)) {
    const path = ['spec', 'traffic', index, 'tag'];
    const owner = view.projectDeclaring(host);
    if (owner !== undefined)
      issues.push({
        object: project,
        path,
        message: `this tag would reach its revision at "${host}", a hostname project "${owner}" declares; choose another tag`,
      });
    const lease = leaseAt(view, host);
    if (lease)
      issues.push({
        object: project,
        path,
        message: `this tag would reach its revision at "${host}", where lease "${lease.metadata.name}" of project "${lease.spec.project}" is reached; choose another tag`,
      });
  }
  return issues;
}

/** A project's declared hostnames against other projects' tags. */
function hostnameIssues(project: ProjectObject, view: HostnameView): HostnameIssue[] {
  return project.spec.hostnames.flatMap((host, index) => {
    const tagged = taggedAt(view, host);
    if (!tagged || tagged.project.metadata.name === project.metadata.name) return [];
    return [
      {
        object: project,
        path: ['spec', 'hostnames', index],
        message: `hostname "${host}" is where tag "${tagged.tag}" of project "${tagged.project.metadata.name}" is reached; hostnames and tag hostnames must differ`,
      },
    ];
  });
}

/** Issues about the batch's objects only, judged against the store as it will be after the batch. */
export function tagHostnameIssues(view: HostnameView, batch: readonly LumaObject[]): HostnameIssue[] {
  const issues: HostnameIssue[] = [];
  for (const object of batch) {
    if (object.kind === 'Project') issues.push(...tagIssues(object, view), ...hostnameIssues(object, view));
    if (object.kind !== 'Lease') continue;
    const project = view.project(object.spec.project);
    const host = project ? leaseHostname(object.metadata.name, project) : undefined;
    const tagged = host === undefined ? undefined : taggedAt(view, host);
    if (host !== undefined && tagged)
      issues.push({
        object,
        path: ['metadata', 'name'],
        message: `this lease would be reached at "${host}", where tag "${tagged.tag}" of project "${tagged.project.metadata.name}" is reached; choose another lease name`,
      });
  }
  return issues;
}
