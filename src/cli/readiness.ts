import type { Condition, LumaObject } from '../model/types.js';
import { objectRef } from './format.js';

// What `luma wait` and `luma apply --wait` decide from each state of an object they watch:
// done, keep waiting (and what to say meanwhile), or give up now because waiting longer
// cannot help (the object stalled, ended, or is gone).

export type WaitFor = { type: 'condition'; condition: string; status: Condition['status'] } | { type: 'delete' };

export type Verdict =
  | { outcome: 'done'; message: string }
  | { outcome: 'waiting'; progress: string }
  | { outcome: 'failed'; message: string };

export class WaitForError extends Error {
  constructor(input: string) {
    super(
      `--for: "${input}" is not a wait condition; write --for=condition=Ready, --for=condition=TYPE=False or --for=delete`,
    );
    this.name = 'WaitForError';
  }
}

/** `condition=Ready`, `condition=Stalled=False`, `delete`. */
export function parseWaitFor(input: string): WaitFor {
  if (input === 'delete') return { type: 'delete' };
  const match = /^condition=([A-Za-z][A-Za-z0-9]*)(?:=(True|False|Unknown|true|false|unknown))?$/.exec(input);
  if (!match?.[1]) throw new WaitForError(input);
  const status = (match[2] ?? 'True').toLowerCase();
  return {
    type: 'condition',
    condition: match[1],
    status: status === 'true' ? 'True' : status === 'false' ? 'False' : 'Unknown',
  };
}

export function describeWaitFor(waitFor: WaitFor): string {
  if (waitFor.type === 'delete') return 'be deleted';
  return waitFor.status === 'True' ? `be ${waitFor.condition}` : `have ${waitFor.condition}=${waitFor.status}`;
}

function condition(object: LumaObject, type: string): Condition | undefined {
  return object.status?.conditions?.find((candidate) => candidate.type === type);
}

/** One line that says where an object stands: `Starting: an instance is starting`. */
export function progressOf(object: LumaObject): string {
  if (object.metadata.deletionTimestamp) return 'Terminating';
  const ready = condition(object, 'Ready');
  const phase = object.status?.phase ?? 'Pending';
  if (!ready) return `${phase}: not reconciled yet`;
  return `${phase}, Ready=${ready.status} (${ready.reason}${ready.message ? `: ${ready.message}` : ''})`;
}

/**
 * `object` is undefined when the object does not exist (after the watch's initial state).
 * A status older than the spec (observedGeneration behind generation) says nothing about
 * the spec just applied, so a condition only counts once the controller has caught up.
 */
export function judge(object: LumaObject | undefined, waitFor: WaitFor, ref: string): Verdict {
  if (waitFor.type === 'delete')
    return object
      ? { outcome: 'waiting', progress: progressOf(object) }
      : { outcome: 'done', message: `${ref} deleted` };
  if (!object) return { outcome: 'failed', message: `${ref} not found (deleted, or never created)` };
  const observed = object.status?.observedGeneration ?? 0;
  const current = observed >= (object.metadata.generation ?? 0);
  const wanted = condition(object, waitFor.condition);
  const rollout = waitFor.condition === 'Ready' && current ? rolloutVerdict(object) : undefined;
  if (rollout) return rollout;
  if (current && wanted?.status === waitFor.status)
    return { outcome: 'done', message: `${objectRef(object)} condition met` };
  if (current && waitFor.condition === 'Ready' && waitFor.status === 'True') {
    const stalled = condition(object, 'Stalled');
    if (stalled?.status === 'True')
      return {
        outcome: 'failed',
        message: `${objectRef(object)} is stalled and will not become Ready without a change: ${stalled.reason}: ${stalled.message}`,
      };
    const ready = condition(object, 'Ready');
    const reconciling = condition(object, 'Reconciling');
    if (ready?.status === 'False' && reconciling?.status === 'False') {
      return {
        outcome: 'failed',
        message: `${objectRef(object)} will not become Ready: ${ready.reason}: ${ready.message}`,
      };
    }
  }
  return { outcome: 'waiting', progress: progressOf(object) };
}

/**
 * A project whose new revision is being rolled out is not there yet, whatever Ready says
 * (the old revision serves): `apply --wait` waits for the rollout, and fails on its rollback.
 */
function rolloutVerdict(object: LumaObject): Verdict | undefined {
  const rollout = condition(object, 'Rollout');
  if (!rollout || rollout.status === 'True') return undefined;
  if (rollout.status === 'False')
    return { outcome: 'failed', message: `${objectRef(object)} rolled back: ${rollout.message}` };
  return { outcome: 'waiting', progress: `Rollout ${rollout.reason}: ${rollout.message}` };
}
