import type { Condition, ConditionStatus } from '../model/types.js';

// Kubernetes-style conditions: lastTransitionTime moves only when the status flips,
// so "Ready since" stays meaningful across reconciles that change nothing.

export function setCondition(
  existing: Condition[] | undefined,
  next: { type: string; status: ConditionStatus; reason: string; message: string },
  now: Date,
): Condition[] {
  const previous = existing?.find((condition) => condition.type === next.type);
  const lastTransitionTime =
    previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const others = (existing ?? []).filter((condition) => condition.type !== next.type);
  return [...others, { ...next, lastTransitionTime }].sort((a, b) => a.type.localeCompare(b.type));
}

export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/**
 * Where an object stands, as the three conditions every kind carries (kstatus style):
 * - `ready`: it does what it was declared for (Ready=True);
 * - `reconciling`: the controller is working towards it and expects to get there
 *   (a build running, an instance starting, a lease waiting for capacity);
 * - `stalled`: it will not get there without someone changing something (a broken
 *   Dockerfile, an image that does not exist, a container that crash-loops). Set it the
 *   moment that is known: Ready turns False at once, no timeout has to run out first;
 * - `ended`: it is done and will not be ready again, which is no failure (an expired or
 *   released lease).
 * The same CamelCase reason and message go on all three, so each reads on its own.
 */
export type ReadinessState = 'ready' | 'reconciling' | 'stalled' | 'ended';

export interface Readiness {
  state: ReadinessState;
  /** CamelCase, such as Running, Building, CrashLoopBackOff. */
  reason: string;
  message: string;
}

export const READINESS_CONDITION_TYPES = ['Ready', 'Reconciling', 'Stalled'] as const;

export function setReadiness(existing: Condition[] | undefined, readiness: Readiness, now: Date): Condition[] {
  const { state, reason, message } = readiness;
  const flags: Record<(typeof READINESS_CONDITION_TYPES)[number], boolean> = {
    Ready: state === 'ready',
    Reconciling: state === 'reconciling',
    Stalled: state === 'stalled',
  };
  let conditions = existing;
  for (const type of READINESS_CONDITION_TYPES)
    conditions = setCondition(conditions, { type, status: flags[type] ? 'True' : 'False', reason, message }, now);
  return conditions ?? [];
}
