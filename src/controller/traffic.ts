import type { ProjectObject, RevisionObject, TrafficEntry, TrafficTarget } from '../model/types.js';

// Pure decisions about how a project's requests split among its revisions: spec.traffic
// resolved against the revisions that exist and those that became ready (Knative's
// traffic block), the proxy services revisions are served under, and the hostnames tags
// give them. The project reconciler routes what these return and writes status.traffic.

/** What a project declares when it declares no traffic: everything to the latest ready revision. */
export const DEFAULT_TRAFFIC: readonly TrafficEntry[] = [{ latestRevision: true, percent: 100 }];

/** Between a tag and the project's first hostname, as Cloud Run writes `TAG---SERVICE`. */
export const TAG_SEPARATOR = '---';

/** Proxy services of revisions start so; a project name (a DNS label) never contains a dot. */
const REVISION_SERVICE_PREFIX = 'revision.';

/**
 * The revisions that take the project's requests: each entry of spec.traffic (or the
 * default) with its revision resolved. `latestRevision` is the newest revision that
 * became ready (`ready`); before any did, the newest one, whose requests are then held
 * until it answers. An entry naming a revision that does not exist (pruned, or not made
 * yet) gives its share to the latest ready one instead: no request is sent nowhere.
 */
export function declaredTraffic(
  project: ProjectObject,
  revisions: readonly RevisionObject[],
  ready: ReadonlySet<string>,
): TrafficTarget[] {
  const names = new Set(revisions.map((revision) => revision.metadata.name));
  const latest = latestReady(revisions, ready) ?? revisions.at(-1)?.metadata.name;
  if (latest === undefined) return [];
  return (project.spec.traffic ?? DEFAULT_TRAFFIC).map((entry) => {
    const named = entry.revisionName !== undefined && names.has(entry.revisionName) ? entry.revisionName : undefined;
    return { revisionName: named ?? latest, percent: entry.percent, ...(entry.tag ? { tag: entry.tag } : {}) };
  });
}

/** The newest revision that became ready, by number. */
export function latestReady(revisions: readonly RevisionObject[], ready: ReadonlySet<string>): string | undefined {
  return [...revisions].reverse().find((revision) => ready.has(revision.metadata.name))?.metadata.name;
}

/** Revisions that ever became ready: Ready now, or Retired after serving. */
export function readyRevisions(revisions: readonly RevisionObject[]): Set<string> {
  return new Set(revisions.filter((revision) => revision.status?.readyAt).map((revision) => revision.metadata.name));
}

/** spec.traffic entries that name a revision that does not exist: their share went to the latest ready one. */
export function unknownRevisions(project: ProjectObject, revisions: readonly RevisionObject[]): string[] {
  const names = new Set(revisions.map((revision) => revision.metadata.name));
  return (project.spec.traffic ?? [])
    .flatMap((entry) => (entry.revisionName === undefined ? [] : [entry.revisionName]))
    .filter((name) => !names.has(name));
}

/** Where a tag reaches its revision only: `<tag>---<first hostname>`. */
export function tagHostname(tag: string, project: Pick<ProjectObject, 'spec'>): string {
  return `${tag}${TAG_SEPARATOR}${project.spec.hostnames[0] ?? 'localhost'}`;
}

/** The tag and the hostname a `<tag>---<host>` name is made of; undefined for any other name. */
export function parseTagHostname(host: string): { tag: string; host: string } | undefined {
  const at = host.indexOf(TAG_SEPARATOR);
  if (at <= 0) return undefined;
  return { tag: host.slice(0, at), host: host.slice(at + TAG_SEPARATOR.length) };
}

/** Every tag hostname the project declares, with the index of its spec.traffic entry. */
export function tagHostnames(project: ProjectObject): { host: string; index: number }[] {
  return (project.spec.traffic ?? []).flatMap((entry, index) =>
    entry.tag === undefined ? [] : [{ host: tagHostname(entry.tag, project), index }],
  );
}

/** The proxy service a revision is served under when it is not the one the project runs now. */
export function revisionService(project: string, revision: RevisionObject): string {
  return `${REVISION_SERVICE_PREFIX}${project}.${revision.spec.number}`;
}

/** The project whose revision a proxy service serves, if it is a revision's. */
export function projectOfRevisionService(service: string): string | undefined {
  if (!service.startsWith(REVISION_SERVICE_PREFIX)) return undefined;
  const rest = service.slice(REVISION_SERVICE_PREFIX.length);
  const dot = rest.lastIndexOf('.');
  return dot > 0 ? rest.slice(0, dot) : undefined;
}

/** One revision's share of a split: the weights of its entries summed. */
export interface RevisionShare {
  revision: string;
  weight: number;
  /** Its tags' hostnames. */
  hosts: string[];
}

/** Per revision, in the order first named: its summed percent and its tag hostnames. */
export function sharesOf(traffic: readonly TrafficTarget[], project: ProjectObject): RevisionShare[] {
  const shares = new Map<string, RevisionShare>();
  for (const target of traffic) {
    const share = shares.get(target.revisionName) ?? { revision: target.revisionName, weight: 0, hosts: [] };
    share.weight += target.percent;
    if (target.tag !== undefined) share.hosts.push(tagHostname(target.tag, project));
    shares.set(target.revisionName, share);
  }
  return [...shares.values()];
}

/**
 * Whether the project's route must split: it declares spec.traffic. Without it, the
 * project's own route serves the revision it runs (and, until that one is ready, the one
 * before), exactly as before traffic existed.
 */
export function declaresTraffic(project: ProjectObject): boolean {
  return project.spec.traffic !== undefined;
}

/** status.traffic: each target with the URL its tag reaches it at. */
export function withTagUrls(
  traffic: readonly TrafficTarget[],
  project: ProjectObject,
  publicUrl: (host: string, tls?: boolean) => string,
): TrafficTarget[] {
  return traffic.map((target) =>
    target.tag === undefined
      ? target
      : { ...target, url: publicUrl(tagHostname(target.tag, project), project.spec.tls) },
  );
}
