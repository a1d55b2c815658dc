import type { Command } from 'commander';
import type { ProjectObject, RevisionObject } from '../../model/types.js';
import { ROLLOUT_UNDO_ANNOTATION, formatRolloutUndo } from '../../model/rollout-undo.js';
import { CliError, type ApiClient } from '../api-client.js';
import { apiClient } from '../common.js';
import { EXIT } from '../exit-codes.js';

// `luma rollout undo [--to-revision=N] project/NAME`: all traffic back to one revision, as
// kubectl's rollout undo puts a Deployment back. The revision keeps running as it was
// recorded (nothing is rebuilt): the command sets spec.traffic to send it every request,
// and the controller routes it at once (a cold revision's requests are held until it
// answers). A manifest applied later declares its own traffic again, as with kubectl.
// During a progressive rollout, undo goes back to the rollout's stable (last good)
// revision and stamps the project so the controller ends the rollout's hold on the split.

/** The revision with the largest share now; the newest ready one when status says nothing. */
function servingNow(project: ProjectObject): string | undefined {
  const traffic = [...(project.status?.traffic ?? [])].sort((a, b) => b.percent - a.percent);
  return traffic[0]?.revisionName ?? project.status?.revisions?.latestReady;
}

/** The candidate of a rollout that holds the split now (under way, paused or rolled back). */
export function rolloutHolding(project: ProjectObject): { candidate: string; stable: string } | undefined {
  const rollout = project.status?.rollout;
  if (!rollout || rollout.phase === 'Succeeded' || rollout.phase === 'Undone') return undefined;
  if (rollout.candidate !== project.status?.revisions?.latestCreated) return undefined;
  return { candidate: rollout.candidate, stable: rollout.stable };
}

/** Revision N; else, during a rollout, its stable revision; else the newest one older than the revision serving now. */
export function undoTarget(
  project: ProjectObject,
  revisions: readonly RevisionObject[],
  toRevision?: number,
): RevisionObject {
  const name = project.metadata.name;
  if (toRevision !== undefined) {
    const found = revisions.find((revision) => revision.spec.number === toRevision);
    if (!found)
      throw new CliError(`project/${name} has no revision ${toRevision} (see: luma rollout history project/${name})`);
    return found;
  }
  const holding = rolloutHolding(project);
  const stable = holding && revisions.find((revision) => revision.metadata.name === holding.stable);
  if (stable) return stable;
  const current = revisions.find((revision) => revision.metadata.name === servingNow(project));
  const older = revisions.filter((revision) => revision.spec.number < (current?.spec.number ?? 0));
  const previous = older.sort((a, b) => b.spec.number - a.spec.number)[0];
  if (!previous)
    throw new CliError(
      `project/${name} has no revision before ${current?.metadata.name ?? 'the one serving'} to go back to`,
    );
  return previous;
}

async function undo(api: ApiClient, name: string, toRevision: number | undefined): Promise<void> {
  const object = await api.get('Project', name);
  if (object.kind !== 'Project') throw new CliError(`project/${name} is not a project`);
  const { items } = await api.list('Revision', { labelSelector: `project=${name}` });
  const revisions = items.filter(
    (item): item is RevisionObject => item.kind === 'Revision' && item.spec.projectUid === object.metadata.uid,
  );
  const target = undoTarget(object, revisions, toRevision);
  const revisionName = target.metadata.name;
  // resourceVersion kept: a change made meanwhile is refused (409), never overwritten.
  await api.put({
    ...object,
    metadata: withUndoStamp(object, revisionName),
    spec: { ...object.spec, traffic: [{ revisionName, percent: 100 }] },
  });
  const holding = rolloutHolding(object);
  const stopped = holding ? ` (rollout of ${holding.candidate} stopped)` : '';
  process.stdout.write(`project/${name} rolled back: all traffic to revision ${revisionName}${stopped}\n`);
}

/** The metadata to write: with the undo annotation when a rollout holds the split, so the controller ends it. */
function withUndoStamp(project: ProjectObject, target: string): ProjectObject['metadata'] {
  const holding = rolloutHolding(project);
  if (!holding) return project.metadata;
  const stamp = formatRolloutUndo({ candidate: holding.candidate, target });
  return { ...project.metadata, annotations: { ...project.metadata.annotations, [ROLLOUT_UNDO_ANNOTATION]: stamp } };
}

function revisionNumber(raw: string): number {
  const number = Number(raw);
  if (!Number.isInteger(number) || number < 1)
    throw new CliError(`--to-revision: expected a revision number (1, 2, ...), got "${raw}"`, EXIT.usage);
  return number;
}

export function registerRolloutUndo(rollout: Command, projectName: (target: string) => string): void {
  rollout
    .command('undo')
    .description("Send all of a project's traffic back to an earlier revision")
    .argument('<project>', 'project/NAME')
    .option(
      '--to-revision <number>',
      "the revision to go back to (default: a rollout's stable revision, else the one before the revision serving now)",
    )
    .addHelpText(
      'after',
      `
Sets spec.traffic to send every request to that revision; it runs as it was recorded.
During a progressive rollout it goes back to the rollout's stable revision and ends the
rollout (status.rollout says Undone).
Requests in flight finish where they are; a revision scaled to zero has its requests
held until it answers. A manifest applied later declares its own traffic again.

Examples:
  luma rollout undo project/web
  luma rollout undo --to-revision=1 project/web`,
    )
    .action(async (target: string, options: { toRevision?: string }, command: Command) => {
      const toRevision = options.toRevision === undefined ? undefined : revisionNumber(options.toRevision);
      await undo(apiClient(command), projectName(target), toRevision);
    });
}
