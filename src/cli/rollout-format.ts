import type { ProjectObject, RevisionObject } from '../model/types.js';
import { canonicalJson } from '../util/hash.js';
import { age, table } from './format.js';

// What `luma rollout history` and `luma rollout status` print, from a project and its
// revisions: pure, so the wording is tested without an API.

/** The spec fields (and the image) that differ from the revision before: what the change was. */
/** Where a progressive rollout (spec.rollout) of the latest revision stands; undefined once it succeeded. */
function steppedRollout(project: ProjectObject, latestCreated: string): RolloutState | undefined {
  const rollout = project.status?.rollout;
  if (!rollout || rollout.candidate !== latestCreated || rollout.phase === 'Succeeded') return undefined;
  const name = `project/${project.metadata.name}`;
  const steps = project.spec.rollout?.steps.length ?? 0;
  const percent = project.status?.traffic?.find((target) => target.revisionName === rollout.candidate)?.percent ?? 0;
  const where = `step ${rollout.step + 1} of ${steps}, ${rollout.candidate} gets ${percent} % (${rollout.stable} the rest)`;
  if (rollout.phase === 'Undone') return { done: true, message: `${name}: ${rollout.message ?? 'rollout undone'}` };
  if (rollout.phase === 'RolledBack')
    return { done: false, failed: true, message: `${name}: rolled back: ${rollout.message ?? ''}` };
  if (rollout.phase === 'Paused') return { done: false, message: `${name}: paused at ${where}` };
  return {
    done: false,
    message: `${name}: ${where}${rollout.stepStartedAt ? '' : `; waiting for ${rollout.candidate} to become ready`}`,
  };
}

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

export type RolloutState = { done: boolean; message: string; failed?: true };

/** Done when the revision of what the project declares now is the one that serves. */
export function rolloutState(project: ProjectObject): RolloutState {
  const name = `project/${project.metadata.name}`;
  const observed = project.status?.observedGeneration ?? 0;
  if (observed < (project.metadata.generation ?? 0))
    return { done: false, message: `waiting for the controller to see ${name}'s latest change` };
  const { latestCreated, latestReady } = project.status?.revisions ?? {};
  if (!latestCreated) return { done: false, message: `waiting for ${name}'s first revision` };
  const stepped = steppedRollout(project, latestCreated);
  if (stepped) return stepped;
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
