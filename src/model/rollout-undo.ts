// How `luma rollout undo` tells the controller to stop a rollout under way: an annotation
// on the project (as `kubectl rollout restart` stamps one on a Deployment), naming the
// candidate whose rollout is undone and the revision all traffic goes back to. Naming the
// candidate makes it inert for any later rollout: a stale annotation undoes nothing.

export const ROLLOUT_UNDO_ANNOTATION = 'luma.dev/rollout-undo';

export interface RolloutUndo {
  /** The revision whose rollout ends. */
  candidate: string;
  /** The revision that gets all traffic instead. */
  target: string;
}

/** The annotation's value: `<candidate>:<target>` (revision names never hold a colon). */
export function formatRolloutUndo(undo: RolloutUndo): string {
  return `${undo.candidate}:${undo.target}`;
}

/** The undo an annotation value asks for; undefined for any other text. */
export function parseRolloutUndo(value: string | undefined): RolloutUndo | undefined {
  const match = /^([a-z0-9-]+):([a-z0-9-]+)$/.exec(value ?? '');
  return match?.[1] && match[2] ? { candidate: match[1], target: match[2] } : undefined;
}
