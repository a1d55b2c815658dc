import type {
  Condition,
  RolloutCounts,
  RolloutLimits,
  RolloutSpec,
  RolloutStatus,
  TrafficTarget,
} from '../model/types.js';
import type { RolloutUndo } from '../model/rollout-undo.js';
import { countsSince, emptyCounts, p99Ms } from '../proxy/revision-outcomes.js';

// A progressive rollout as a pure state machine (Flagger's canary analysis, in small):
//   Progressing (step n, candidate gets steps[n].percent) → step n+1 → … → Succeeded
//   Progressing past a limit → RolledBack (all traffic to the stable revision)
//   Progressing ⇄ Paused (spec.rollout.paused holds the step and its clock)
//   Progressing | Paused | RolledBack → Undone (`luma rollout undo`: the hold ends, and
//     spec.traffic, which the undo set to all on its target, routes again)
// A candidate that is not ready yet stays at 0 % and its step clock does not start.
// Everything it needs between calls is in status.rollout, so a controller killed
// mid-rollout carries on from the store; the proxy's counts are read fresh each time.

export interface RolloutInput {
  spec: RolloutSpec | undefined;
  previous: RolloutStatus | undefined;
  /** The revision of what the project declares now (status.revisions.latestCreated). */
  candidate: string | undefined;
  /** Whether an instance of the candidate passed readiness. */
  candidateReady: boolean;
  /** The revision that served all traffic before the candidate: the stable one of a new rollout. */
  lastGood: string | undefined;
  /** The candidate's counts since the proxy started (absent: none yet). */
  outcomes: RolloutCounts | undefined;
  now: number;
  /** What `luma rollout undo` asked for (the project's annotation), if anything. */
  undo?: RolloutUndo | undefined;
}

/** Something worth an event (and, for a rollback, a webhook). */
export interface RolloutTransition {
  type: 'Normal' | 'Warning';
  reason:
    | 'RolloutStarted'
    | 'RolloutStepAdvanced'
    | 'RolloutSucceeded'
    | 'RolloutRolledBack'
    | 'RolloutPaused'
    | 'RolloutResumed'
    | 'RolloutUndone';
  message: string;
}

export interface RolloutDecision {
  status: RolloutStatus | undefined;
  /** The split to route; undefined: the declared traffic (no rollout under way). */
  traffic: TrafficTarget[] | undefined;
  transitions: RolloutTransition[];
}

export function decideRollout(input: RolloutInput): RolloutDecision {
  const transitions: RolloutTransition[] = [];
  const begun = begin(input, transitions);
  // No rollout of this candidate: one of an older candidate is over and goes (its False
  // condition would otherwise fail every later `apply --wait`, and a later spec.rollout
  // would start from its stale stable revision).
  if (!begun) return { status: undefined, traffic: undefined, transitions };
  const status = undoneBy(begun, input.undo, transitions) ?? advance(begun, input, transitions);
  return { status, traffic: trafficOf(status, input.spec), transitions };
}

/** The rollout to carry on: the stored one, a new one for a new candidate, or none. */
function begin(input: RolloutInput, transitions: RolloutTransition[]): RolloutStatus | undefined {
  const { spec, previous, candidate } = input;
  if (previous && previous.candidate === candidate) return previous;
  if (!spec || !candidate) return undefined;
  const stable = previous ? (previous.phase === 'Succeeded' ? previous.candidate : previous.stable) : input.lastGood;
  if (!stable || stable === candidate) return undefined;
  transitions.push({
    type: 'Normal',
    reason: 'RolloutStarted',
    message: `rolling out ${candidate} in ${spec.steps.length} steps; ${stable} serves the rest`,
  });
  return {
    phase: 'Progressing',
    stable,
    candidate,
    step: 0,
    reason: 'WaitingForReady',
    message: `waiting for ${candidate} to become ready`,
  };
}

/** An undo of this rollout while it holds the split ends it: its target becomes the stable revision. */
function undoneBy(
  current: RolloutStatus,
  undo: RolloutUndo | undefined,
  transitions: RolloutTransition[],
): RolloutStatus | undefined {
  if (!undo || undo.candidate !== current.candidate) return undefined;
  if (current.phase === 'Succeeded' || current.phase === 'Undone') return undefined;
  const message = `rollout of ${current.candidate} undone at step ${current.step + 1}; all traffic to ${undo.target}`;
  transitions.push({ type: 'Normal', reason: 'RolloutUndone', message });
  const { baseline: _baseline, pausedElapsedMs: _paused, limit: _limit, ...rest } = current;
  return { ...rest, phase: 'Undone', stable: undo.target, reason: 'Undone', message };
}

function advance(current: RolloutStatus, input: RolloutInput, transitions: RolloutTransition[]): RolloutStatus {
  const { spec } = input;
  if (current.phase === 'Succeeded' || current.phase === 'RolledBack' || current.phase === 'Undone') return current;
  if (!spec) return finish(current, 'the rollout was removed from the spec', transitions);
  const held = pauseOrResume(current, input, transitions);
  if (held.phase === 'Paused') return held;
  if (held.stepStartedAt === undefined) {
    if (!input.candidateReady) return held;
    return startStep(held, held.step, input, spec);
  }
  const step = spec.steps[held.step];
  if (!step) return finish(held, `${held.candidate} passed all ${spec.steps.length} steps`, transitions);
  const observed = countsSince(input.outcomes ?? emptyCounts(), held.baseline);
  const breach = limitPassed(observed, spec.limits);
  if (breach) return rollBack(held, breach, transitions);
  const elapsedMs = input.now - Date.parse(held.stepStartedAt);
  if (elapsedMs < step.durationSeconds * 1000 || observed.requests < (spec.limits?.minRequests ?? 0)) return held;
  if (held.step + 1 >= spec.steps.length)
    return finish(held, `${held.candidate} passed all ${spec.steps.length} steps`, transitions);
  const next = startStep(held, held.step + 1, input, spec);
  transitions.push({ type: 'Normal', reason: 'RolloutStepAdvanced', message: next.message ?? '' });
  return next;
}

function startStep(current: RolloutStatus, step: number, input: RolloutInput, spec: RolloutSpec): RolloutStatus {
  const percent = spec.steps[step]?.percent ?? 0;
  const { reason: _reason, message: _message, ...rest } = current;
  return {
    ...rest,
    phase: 'Progressing',
    step,
    stepStartedAt: new Date(input.now).toISOString(),
    baseline: input.outcomes ?? emptyCounts(),
    reason: 'StepStarted',
    message: `step ${step + 1} of ${spec.steps.length}: ${current.candidate} gets ${percent} %`,
  };
}

/** spec.rollout.paused holds the step: its elapsed time is kept, and given back on resume. */
function pauseOrResume(current: RolloutStatus, input: RolloutInput, transitions: RolloutTransition[]): RolloutStatus {
  const paused = input.spec?.paused === true;
  if (paused && current.phase !== 'Paused') {
    const elapsed = current.stepStartedAt === undefined ? undefined : input.now - Date.parse(current.stepStartedAt);
    const message = `paused at step ${current.step + 1}`;
    transitions.push({
      type: 'Normal',
      reason: 'RolloutPaused',
      message: `rollout of ${current.candidate} ${message}`,
    });
    return {
      ...current,
      phase: 'Paused',
      reason: 'Paused',
      message,
      ...(elapsed === undefined ? {} : { pausedElapsedMs: elapsed }),
    };
  }
  if (!paused && current.phase === 'Paused') {
    const { pausedElapsedMs, ...rest } = current;
    const startedAt = pausedElapsedMs === undefined ? undefined : new Date(input.now - pausedElapsedMs).toISOString();
    const message = `resumed at step ${current.step + 1}`;
    transitions.push({
      type: 'Normal',
      reason: 'RolloutResumed',
      message: `rollout of ${current.candidate} ${message}`,
    });
    return {
      ...rest,
      phase: 'Progressing',
      reason: 'Resumed',
      message,
      ...(startedAt ? { stepStartedAt: startedAt } : {}),
    };
  }
  return current;
}

type Breach = NonNullable<RolloutStatus['limit']>;

/** The first limit the step's counts passed; none is judged before minRequests (and at least one) requests. */
export function limitPassed(counts: RolloutCounts, limits: RolloutLimits | undefined): Breach | undefined {
  if (!limits || counts.requests === 0 || counts.requests < (limits.minRequests ?? 0)) return undefined;
  const rate = counts.errors / counts.requests;
  if (limits.maxErrorRate !== undefined && rate > limits.maxErrorRate)
    return { name: 'maxErrorRate', value: limits.maxErrorRate, observed: round(rate), requests: counts.requests };
  const p99 = p99Ms(counts);
  if (limits.maxLatencyP99Ms !== undefined && p99 !== undefined && p99 > limits.maxLatencyP99Ms)
    return { name: 'maxLatencyP99Ms', value: limits.maxLatencyP99Ms, observed: finite(p99), requests: counts.requests };
  return undefined;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Slower than the last bucket: reported as the largest figure JSON can carry for it. */
function finite(ms: number): number {
  return Number.isFinite(ms) ? ms : Number.MAX_SAFE_INTEGER;
}

export function describeBreach(breach: Breach): string {
  const figure =
    breach.name === 'maxErrorRate'
      ? `5xx rate ${breach.observed} > ${breach.value}`
      : `p99 latency ${breach.observed === Number.MAX_SAFE_INTEGER ? 'over 30000' : breach.observed} ms > ${breach.value} ms`;
  return `${breach.name} passed: ${figure} over ${breach.requests} requests`;
}

function rollBack(current: RolloutStatus, breach: Breach, transitions: RolloutTransition[]): RolloutStatus {
  const message = `${current.candidate} ${describeBreach(breach)} at step ${current.step + 1}; all traffic back to ${current.stable}`;
  transitions.push({ type: 'Warning', reason: 'RolloutRolledBack', message });
  const { pausedElapsedMs: _paused, ...rest } = current;
  return { ...rest, phase: 'RolledBack', reason: 'LimitPassed', message, limit: breach };
}

function finish(current: RolloutStatus, message: string, transitions: RolloutTransition[]): RolloutStatus {
  transitions.push({ type: 'Normal', reason: 'RolloutSucceeded', message });
  const { baseline: _baseline, pausedElapsedMs: _paused, ...rest } = current;
  return { ...rest, phase: 'Succeeded', reason: 'Succeeded', message };
}

/** The split a rollout routes: none once it is over or undone (declared traffic), all to stable until a step begins. */
export function trafficOf(status: RolloutStatus, spec: RolloutSpec | undefined): TrafficTarget[] | undefined {
  if (status.phase === 'Succeeded' || status.phase === 'Undone') return undefined;
  const percent =
    status.phase === 'RolledBack' || status.stepStartedAt === undefined ? 0 : (spec?.steps[status.step]?.percent ?? 0);
  if (percent === 0) return [{ revisionName: status.stable, percent: 100 }];
  return [
    { revisionName: status.stable, percent: 100 - percent },
    { revisionName: status.candidate, percent },
  ];
}

/** The project's `Rollout` condition: True once done, False once rolled back or undone, Unknown meanwhile. */
export function rolloutCondition(status: RolloutStatus): Omit<Condition, 'lastTransitionTime'> {
  const over = status.phase === 'RolledBack' || status.phase === 'Undone';
  const state = status.phase === 'Succeeded' ? 'True' : over ? 'False' : 'Unknown';
  return { type: 'Rollout', status: state, reason: status.phase, message: status.message ?? '' };
}
