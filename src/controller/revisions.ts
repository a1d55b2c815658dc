import {
  API_VERSION,
  type ProjectObject,
  type ProjectSpec,
  type RevisionObject,
  type RevisionStatus,
} from '../model/types.js';
import { canonicalJson } from '../util/hash.js';

// Pure decisions about a project's revisions: what part of its spec makes one, when a
// change calls for a new one, what it is named, and which old ones go. The history
// (revision-history.ts) reads and writes them.

/** The label every revision carries: `luma get revisions -l project=NAME`. */
export const REVISION_PROJECT_LABEL = 'project';

/** Revisions kept per project when the operator sets no `revisionHistoryLimit`. */
export const DEFAULT_REVISION_HISTORY_LIMIT = 10;

// What makes a revision is the model's (revision-template.ts): `luma diff` and the watched
// directory say the same as the controller does.
import { templateOf } from '../model/revision-template.js';
export { ROUTING_FIELDS, templateOf } from '../model/revision-template.js';

export function revisionName(project: string, number: number): string {
  return `${project}-${number}`;
}

/** A project's revisions (of this very object, by uid), oldest first. */
export function revisionsOf(all: readonly RevisionObject[], project: ProjectObject): RevisionObject[] {
  const uid = project.metadata.uid ?? '';
  return all
    .filter((revision) => revision.spec.project === project.metadata.name && revision.spec.projectUid === uid)
    .sort((a, b) => a.spec.number - b.spec.number);
}

/** Whether a revision runs exactly this template and image. */
export function runsSame(revision: RevisionObject, template: Partial<ProjectSpec>, image: string): boolean {
  return revision.spec.image === image && canonicalJson(revision.spec.template) === canonicalJson(template);
}

/**
 * The revision for what the project declares now: the newest one when it runs the same,
 * or a new one numbered after it. A spec put back as it was in an older revision makes
 * a new revision too (as in Knative): numbers only ever grow.
 */
export function revisionFor(
  existing: readonly RevisionObject[],
  project: ProjectObject,
  image: string,
): { revision: RevisionObject; created: boolean } {
  const template = templateOf(project.spec);
  const newest = existing.at(-1);
  if (newest && runsSame(newest, template, image)) return { revision: newest, created: false };
  const number = (newest?.spec.number ?? 0) + 1;
  const name = project.metadata.name;
  const revision: RevisionObject = {
    apiVersion: API_VERSION,
    kind: 'Revision',
    metadata: { name: revisionName(name, number), labels: { [REVISION_PROJECT_LABEL]: name } },
    spec: { project: name, projectUid: project.metadata.uid ?? '', number, image, template },
  };
  return { revision, created: true };
}

/**
 * Which revisions go: all but the newest `limit`, except those named in `keep` (the one
 * that serves, the one being rolled out). Oldest first.
 */
export function revisionsToPrune(
  existing: readonly RevisionObject[],
  limit: number,
  keep: ReadonlySet<string>,
): RevisionObject[] {
  const old = existing.slice(0, Math.max(0, existing.length - Math.max(1, limit)));
  return old.filter((revision) => !keep.has(revision.metadata.name));
}

/** The image references kept revisions run: image clean-up leaves them. */
export function imagesOfRevisions(revisions: readonly RevisionObject[]): Set<string> {
  return new Set(revisions.map((revision) => revision.spec.image));
}

/** A revision's status once one of its instances served (Ready), or once a newer one took over (Retired). */
export function revisionStatus(
  previous: RevisionStatus | undefined,
  state: 'Ready' | 'Retired',
  now: number,
): RevisionStatus {
  const readyAt = previous?.readyAt ?? (state === 'Ready' ? new Date(now).toISOString() : undefined);
  return { phase: state, ...(readyAt ? { readyAt } : {}) };
}
