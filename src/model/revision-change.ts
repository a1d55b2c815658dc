import type { ProjectObject, RolloutSpec } from './types.js';
import { templateOf } from './revision-template.js';
import { canonicalJson } from '../util/hash.js';

// What applying a project's change does to its revisions, in words, for `luma diff` and
// the watched directory's log: a change to what runs makes revision N+1, which takes over
// as the project declares (a rollout step by step, or once it is ready), never a
// replacement of the running containers in place.

/** The number in a revision's name (`web-3` of project `web`: 3). */
function numberOf(project: string, revision: string | undefined): number | undefined {
  if (revision === undefined || !revision.startsWith(`${project}-`)) return undefined;
  const number = Number(revision.slice(project.length + 1));
  return Number.isInteger(number) && number > 0 ? number : undefined;
}

function stepsOf(rollout: RolloutSpec): string {
  return rollout.steps.map((step) => `${step.percent} % for ${step.durationSeconds}s`).join(', ');
}

/** The sentence for a change of `live` into `planned`; undefined when it makes no revision (or there is none yet). */
export function revisionChange(live: ProjectObject | null | undefined, planned: ProjectObject): string | undefined {
  if (!live || canonicalJson(templateOf(live.spec)) === canonicalJson(templateOf(planned.spec))) return undefined;
  const name = planned.metadata.name;
  const current = live.status?.revisions?.latestCreated;
  const number = numberOf(name, current);
  const next = number === undefined ? 'a new revision' : `revision ${name}-${number + 1}`;
  const serving = live.status?.revisions?.latestReady ?? current;
  const keeps = serving ? `${serving} keeps serving` : 'the revision serving now keeps serving';
  const rollout = planned.spec.rollout;
  if (rollout)
    return `will make ${next} and roll it out: ${stepsOf(rollout)}, then all traffic (${keeps} the rest; not a replacement)`;
  if (planned.spec.traffic)
    return `will make ${next}; traffic splits as spec.traffic says (${keeps} its share; not a replacement)`;
  return `will make ${next} and roll out to it: ${keeps} until it is ready, then it takes all traffic (not a replacement)`;
}
