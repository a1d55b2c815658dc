import type { ProjectObject, RevisionObject, TrafficTarget } from '../model/types.js';
import type { DeployRequest, SplitShare } from '../proxy/management.js';
import {
  declaredTraffic,
  declaresTraffic,
  latestReady,
  readyRevisions,
  revisionService,
  sharesOf,
  type RevisionShare,
} from './traffic.js';

// What the project reconciler routes for spec.traffic, as pure functions: the split
// resolved once per reconcile, and the project's own route with its split added.

/** A revision's share of the split, with the proxy service that serves it. */
export interface ServedShare extends RevisionShare {
  service: string;
}

export interface ResolvedTraffic {
  /** status.traffic: the split as declared, revisions resolved. */
  status: TrafficTarget[];
  /** The split of the project's route; empty when the project declares no spec.traffic (no split). */
  shares: ServedShare[];
  /** The newest revision that became ready. */
  latestReady?: string | undefined;
  /** The revision the project runs has a split to join but never became ready: start it once. */
  wakeOwn: boolean;
}

/** spec.traffic resolved (or the split a rollout holds) for `own`, the revision the project runs (served on the project's own route). */
export function resolveTraffic(
  project: ProjectObject,
  revisions: readonly RevisionObject[],
  own: string,
  held?: readonly TrafficTarget[],
): ResolvedTraffic {
  const ready = readyRevisions(revisions);
  const declared = declaredTraffic(project, revisions, ready);
  const status = held ? withDeclaredTags(held, declared) : declared;
  const newestReady = latestReady(revisions, ready);
  if (!held && !declaresTraffic(project)) return { status, shares: [], latestReady: newestReady, wakeOwn: false };
  const byName = new Map(revisions.map((revision) => [revision.metadata.name, revision]));
  const name = project.metadata.name;
  const shares = sharesOf(status, project).map((share) => {
    const revision = byName.get(share.revision);
    const service = share.revision === own || !revision ? name : revisionService(name, revision);
    return { ...share, service };
  });
  return { status, shares, latestReady: newestReady, wakeOwn: newestReady !== own };
}

/**
 * The project's own route with its split: shares of other revisions go to their services;
 * the share of `own` (and its tag hostnames) to the route's own targets. Without a split,
 * `split: []` ends any earlier one.
 */
export function splitRoute(route: DeployRequest, traffic: ResolvedTraffic, own: string): DeployRequest {
  if (traffic.shares.length === 0) return { ...route, revision: own, split: [] };
  const split: SplitShare[] = traffic.shares.map((share) => ({
    service: share.service,
    revision: share.revision,
    weight: share.weight,
  }));
  const ownTags = traffic.shares.find((share) => share.service === route.service)?.hosts ?? [];
  return {
    ...route,
    hosts: [...route.hosts, ...ownTags],
    ...(ownTags.length > 0 ? { unsplitHosts: ownTags } : {}),
    revision: own,
    split,
  };
}

/**
 * The split a rollout holds instead of spec.traffic: status.traffic while a rollout of
 * `own` is under way, paused or rolled back (not once undone); and, for a project with spec.rollout whose
 * newest revision the rollout has not taken up yet, all on the last good revision, so a
 * new revision gets no request before the rollout's first step gives it one.
 */
export function heldTraffic(project: ProjectObject, own: string): TrafficTarget[] | undefined {
  const rollout = project.status?.rollout;
  // An undone rollout holds nothing: spec.traffic, which the undo wrote, routes.
  if (rollout?.phase === 'Undone' && rollout.candidate === own) return undefined;
  if (rollout && rollout.phase !== 'Succeeded' && rollout.candidate === own) return project.status?.traffic;
  // The last good revision as the rollout takes it (rollout.ts begin): not latestReady,
  // which a canary becomes at its first step and stays after a rollback.
  const lastGood = rollout
    ? rollout.phase === 'Succeeded'
      ? rollout.candidate
      : rollout.stable
    : project.status?.revisions?.latestReady;
  if (project.spec.rollout && lastGood !== undefined && lastGood !== own)
    return [{ revisionName: lastGood, percent: 100 }];
  return undefined;
}

/**
 * A held split with the project's declared tags kept, each as a 0 % share of the revision
 * it names: a rollout decides the weights, but a tag hostname keeps reaching its revision
 * (not 404) while it holds them. Tags in `held` (kept at an earlier write) are replaced.
 */
export function withDeclaredTags(held: readonly TrafficTarget[], declared: readonly TrafficTarget[]): TrafficTarget[] {
  const tagged = declared.flatMap((target) =>
    target.tag === undefined ? [] : [{ revisionName: target.revisionName, percent: 0, tag: target.tag }],
  );
  return [...held.filter((target) => target.tag === undefined), ...tagged];
}

/** Whether two splits route the same shares (tags, URLs and 0 % shares aside). */
export function sameTraffic(a: readonly TrafficTarget[], b: readonly TrafficTarget[]): boolean {
  const key = (targets: readonly TrafficTarget[]): string =>
    JSON.stringify(
      targets.filter((target) => target.percent > 0).map((target) => [target.revisionName, target.percent]),
    );
  return key(a) === key(b);
}
