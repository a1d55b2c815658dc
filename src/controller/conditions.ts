import type { Condition, ConditionStatus } from '../model/types.js';

// Kubernetes-style conditions: lastTransitionTime moves only when the status flips,
// so "Ready since" stays meaningful across reconciles that change nothing.

export function setCondition(
  existing: Condition[] | undefined,
  next: { type: string; status: ConditionStatus; reason: string; message: string },
  now: Date,
): Condition[] {
  const previous = existing?.find((condition) => condition.type === next.type);
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const others = (existing ?? []).filter((condition) => condition.type !== next.type);
  return [...others, { ...next, lastTransitionTime }].sort((a, b) => a.type.localeCompare(b.type));
}

export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}
