import type { ProjectObject, RevisionObject } from '../model/types.js';
import { canonicalJson } from '../util/hash.js';
import { age, table } from './format.js';

// What `luma rollout history` and `luma rollout status` print, from a project and its
// revisions: pure, so the wording is tested without an API.

/** The spec fields (and the image) that differ from the revision before: what the change was. */
export function changeOf(revision: RevisionObject, before: RevisionObject | undefined): string {
  if (!before) return '(first)';
  const fields = new Set([...Object.keys(revision.spec.template), ...Object.keys(before.spec.template)]);
  const changed = [...fields]
    .filter((field) => {
      const key = field as keyof RevisionObject['spec']['template'];
      return canonicalJson(revision.spec.template[key] ?? null) !== canonicalJson(before.spec.template[key] ?? null);
    })
    .sort();
  if (revision.spec.image !== before.spec.image && !changed.includes('image')) changed.unshift('image');
  return changed.length > 0 ? changed.join(', ') : '(same spec)';
}

/** Oldest first, as kubectl prints a rollout history. */
export function historyTable(revisions: readonly RevisionObject[], now = Date.now()): string {
  const sorted = [...revisions].sort((a, b) => a.spec.number - b.spec.number);
  const rows = sorted.map((revision, index) => [
    String(revision.spec.number),
    revision.metadata.name,
    revision.status?.phase ?? 'Pending',
    age(revision.metadata.creationTimestamp, now),
    revision.spec.image,
    changeOf(revision, sorted[index - 1]),
  ]);
  return table([['REVISION', 'NAME', 'STATUS', 'AGE', 'IMAGE', 'CHANGE'], ...rows]);
}

export type RolloutState = { done: true; message: string } | { done: false; message: string };

/** Done when the revision of what the project declares now is the one that serves. */
export function rolloutState(project: ProjectObject): RolloutState {
  const name = `project/${project.metadata.name}`;
  const observed = project.status?.observedGeneration ?? 0;
  if (observed < (project.metadata.generation ?? 0))
    return { done: false, message: `waiting for the controller to see ${name}'s latest change` };
  const { latestCreated, latestReady } = project.status?.revisions ?? {};
  if (!latestCreated) return { done: false, message: `waiting for ${name}'s first revision` };
  if (latestReady === latestCreated)
    return { done: true, message: `${name}: revision ${latestCreated} serves; rollout complete` };
  if (project.status?.phase === 'Idle')
    return {
      done: true,
      message: `${name}: revision ${latestCreated} is current; scaled to zero, it starts on the next request`,
    };
  const serving = latestReady ? `${latestReady} still serves` : 'nothing serves yet';
  return { done: false, message: `${name}: waiting for revision ${latestCreated} to become ready (${serving})` };
}
