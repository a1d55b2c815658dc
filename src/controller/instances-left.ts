import type { InstanceLeft } from '../model/types.js';
import type { ManagedContainer } from '../runtime/runtime.js';
import { describeDrift } from './drift.js';

// What the project reconciler left each instance as, kept in status.instancesLeft so that a
// restarted controller still knows: a container found otherwise drifted (told once, as an
// event); a container left running that exited crashed while serving; a stopped one is
// removed once it has been stopped for the retention. Pure functions.

export type LeftAs = InstanceLeft['state'];

/** 128 + SIGTERM: how a container stopped with `docker stop` ends. */
const STOPPED_BY_SIGTERM = 143;

export function leftById(left: readonly InstanceLeft[] | undefined): Map<string, InstanceLeft> {
  return new Map((left ?? []).map((entry) => [entry.id, entry]));
}

/** What drifted since the last reconcile, one line per container. */
export function driftsSince(left: Map<string, InstanceLeft>, containers: readonly ManagedContainer[]): string[] {
  const found = new Map(containers.map((container) => [container.id, container]));
  const drifts: string[] = [];
  for (const [id, was] of left) {
    const drift = describeDrift(was, found.get(id));
    if (drift) drifts.push(drift);
  }
  return drifts;
}

/**
 * Instances that were left serving and are now found exited with a code that tells of a
 * crash: not 0, not SIGTERM (`docker stop` by hand, healed at once as drift), not unknown.
 */
export function crashedWhileServing(
  left: Map<string, InstanceLeft>,
  stopped: readonly ManagedContainer[],
): ManagedContainer[] {
  return stopped.filter(
    (container) =>
      container.state === 'exited' &&
      left.get(container.id)?.state === 'running' &&
      container.exitCode !== undefined &&
      container.exitCode !== 0 &&
      container.exitCode !== STOPPED_BY_SIGTERM,
  );
}

/** When a stopped container's retention started: when Luma left it stopped, else now (found so). */
export function stoppedSince(left: Map<string, InstanceLeft>, container: ManagedContainer, now: number): number {
  const entry = left.get(container.id);
  return entry?.state === 'stopped' ? Date.parse(entry.since) : now;
}

/** Stopped containers kept past the retention. */
export function pastRetention(
  left: Map<string, InstanceLeft>,
  stopped: readonly ManagedContainer[],
  now: number,
  retentionMs: number,
): ManagedContainer[] {
  return stopped.filter((container) => now - stoppedSince(left, container, now) >= retentionMs);
}

/** The new record: each container with its state, keeping `since` where the state did not change. */
export function nextLeft(
  previous: Map<string, InstanceLeft>,
  entries: ReadonlyArray<readonly [ManagedContainer, LeftAs]>,
  now: number,
): InstanceLeft[] {
  return entries.map(([container, state]) => {
    const was = previous.get(container.id);
    const since = was?.state === state ? was.since : new Date(now).toISOString();
    return { id: container.id, name: container.name, state, since };
  });
}

/** One entry changed (a fast resume, an eviction), the others as they were. */
export function withLeft(
  left: readonly InstanceLeft[] | undefined,
  container: ManagedContainer,
  state: LeftAs,
  now: number,
): InstanceLeft[] {
  const others = (left ?? []).filter((entry) => entry.id !== container.id);
  return [...others, { id: container.id, name: container.name, state, since: new Date(now).toISOString() }];
}
