import type { ProjectObject, RolloutLimits } from '../model/types.js';

// What `luma describe project` shows of a progressive rollout besides the split: its
// phase, the step (k of n) and the candidate's share, since when, and the limits it is
// judged by. Pure, so the wording is tested without an API.

function limitsOf(limits: RolloutLimits | undefined): string {
  const parts = [
    limits?.maxErrorRate !== undefined ? `maxErrorRate ${limits.maxErrorRate}` : undefined,
    limits?.maxLatencyP99Ms !== undefined ? `maxLatencyP99Ms ${limits.maxLatencyP99Ms} ms` : undefined,
    limits?.minRequests !== undefined ? `minRequests ${limits.minRequests}` : undefined,
  ].filter((part): part is string => part !== undefined);
  return parts.length > 0 ? parts.join(', ') : '<none>';
}

/** The `Rollout:` block; none when the project has no rollout in status. `ago` prints a time's age. */
export function rolloutLines(project: ProjectObject, ago: (timestamp: string | undefined) => string): string[] {
  const rollout = project.status?.rollout;
  if (!rollout) return [];
  const steps = project.spec.rollout?.steps ?? [];
  const share = project.status?.traffic?.find((target) => target.revisionName === rollout.candidate)?.percent ?? 0;
  const since = rollout.stepStartedAt
    ? `${rollout.stepStartedAt} (${ago(rollout.stepStartedAt)} ago)`
    : `not yet: waiting for ${rollout.candidate} to become ready`;
  const lines = [
    'Rollout:',
    `  Phase:      ${rollout.phase}`,
    `  Revisions:  ${rollout.candidate} (stable ${rollout.stable})`,
    `  Step:       ${rollout.step + 1} of ${steps.length}, ${rollout.candidate} gets ${share} %`,
    `  Since:      ${since}`,
    `  Limits:     ${limitsOf(project.spec.rollout?.limits)}`,
  ];
  if (rollout.message) lines.push(`  Message:    ${rollout.message}`);
  return lines;
}
