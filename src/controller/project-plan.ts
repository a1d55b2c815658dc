import type { CrashLoopStatus, ProjectStatus } from '../model/types.js';
import type { ProjectSettings } from '../model/project-settings.js';
import type { ActivitySnapshot } from '../proxy/management.js';
import type { ManagedContainer } from '../runtime/runtime.js';
import { backingOff, lastCrash } from './crash-loop.js';
import type { LeftAs } from './instances-left.js';
import { crashLoopFailure, ProjectReason, publicMessageOf, type Failure } from './project-reasons.js';
import { IMAGE_RECHECK_MS, ADMISSION_RETRY_MS, MIN_REQUEUE_MS, requeueAt } from './requeue.js';
import { decideInstances, type ScalingDecision } from './scaling.js';
import type { ReconcileResult } from './work-queue.js';

// The project reconciler's decisions, as pure functions of what it observed: which
// containers are whose, how many instances to start and from what, and — once the starts
// have answered — what to route, pause, stop and remove, what status says, and when to
// look again. The reconciler only observes and acts.

/** A project's instance containers, sorted by what becomes of them. */
export interface Sorted {
  /** Of this object (its uid). */
  mine: ManagedContainer[];
  /** Of an earlier object with the same name: removed. */
  foreign: ManagedContainer[];
  /** Of an older spec: removed once a replacement serves. */
  outdated: ManagedContainer[];
  /** Of the current spec, being removed or left dead: removed. */
  broken: ManagedContainer[];
  running: ManagedContainer[];
  paused: ManagedContainer[];
  stopped: ManagedContainer[];
}

/**
 * `revision`: the one that runs now; a container of another revision is outdated even
 * with the same hash (a readiness change makes a revision but not a new hash). One made
 * before revisions (no label) counts as the current revision's.
 */
export function sortContainers(
  containers: readonly ManagedContainer[],
  uid: string,
  hash: string,
  revision?: string,
): Sorted {
  const mine = containers.filter((container) => container.owner.uid === uid);
  const ofRevision = (container: ManagedContainer): boolean =>
    revision === undefined || container.revision === undefined || container.revision === revision;
  const isCurrent = (container: ManagedContainer): boolean => container.specHash === hash && ofRevision(container);
  const current = mine.filter(isCurrent);
  const inState = (...states: string[]): ManagedContainer[] =>
    current.filter((container) => states.includes(container.state));
  return {
    mine,
    foreign: containers.filter((container) => container.owner.uid !== uid),
    outdated: mine.filter((container) => !isCurrent(container)),
    broken: inState('dead', 'removing'),
    running: inState('running', 'restarting'),
    paused: inState('paused'),
    stopped: inState('exited', 'created'),
  };
}

export interface StartInput {
  settings: ProjectSettings;
  /** Instances that serve now (probed ready). */
  serving: number;
  servingSince: number | undefined;
  paused: readonly ManagedContainer[];
  stopped: readonly ManagedContainer[];
  activity: ActivitySnapshot | undefined;
  /** An instance was stopped to make room, and no request came since. */
  evicted: boolean;
  loop: CrashLoopStatus | undefined;
  now: number;
}

export interface StartPlan {
  decision: ScalingDecision;
  /** Instances to start: thawed or restarted from `candidates` first, created for the rest. */
  deficit: number;
  candidates: ManagedContainer[];
  /** Only creating needs the image; resuming or restarting does not. */
  needsImage: boolean;
  /** Say Starting before the starts: a restart or create (a thaw is too quick to tell). */
  announce: boolean;
  /** Why nothing starts though instances are missing (a crash loop's backoff). */
  blocked?: Failure;
}

export function planStarts(input: StartInput): StartPlan {
  const { settings, now } = input;
  const scaled = decideInstances({
    minInstances: settings.minInstances,
    maxInstances: settings.maxInstances,
    targetConcurrency: settings.targetConcurrency,
    idleTimeoutMs: settings.idleTimeoutMs,
    pauseAfterMs: settings.pauseAfterMs,
    activity: input.activity,
    serving: input.serving,
    servingSince: input.servingSince,
    now,
  });
  // Made room for another start: keeps what still serves, starts nothing until a request comes.
  const decision = input.evicted
    ? { ...scaled, desired: Math.min(scaled.desired, Math.max(input.serving, settings.minInstances)) }
    : scaled;
  const deficit = Math.max(0, decision.desired - input.serving);
  const waitingOut = deficit > 0 ? backingOff(input.loop, now) : undefined;
  if (waitingOut)
    return {
      decision,
      deficit: 0,
      candidates: [],
      needsImage: false,
      announce: false,
      blocked: crashLoopFailure(waitingOut, now),
    };
  // Fastest first: thaw paused instances, then restart stopped ones, then create.
  const candidates = [...input.paused, ...input.stopped].slice(0, deficit);
  const needsImage = deficit > candidates.length;
  const announce = deficit > 0 && (needsImage || candidates.some((candidate) => candidate.state !== 'paused'));
  return { decision, deficit, candidates, needsImage, announce };
}

export interface ActInput {
  decision: ScalingDecision;
  /** Serving after the starts, most recently ready first. */
  serving: readonly ManagedContainer[];
  /** Candidates the starts brought up. */
  started: ReadonlySet<string>;
  paused: readonly ManagedContainer[];
  stopped: readonly ManagedContainer[];
  outdated: readonly ManagedContainer[];
  failure: Failure | undefined;
}

export interface ActPlan {
  targets: ManagedContainer[];
  /** Serving instances beyond the desired count. */
  surplus: ManagedContainer[];
  pause: ManagedContainer[];
  stop: ManagedContainer[];
  remove: ManagedContainer[];
  /** The route's 503 reason while it has no target and a held request should hear why at once. */
  unavailableReason: string | undefined;
  /** Frozen instances a held request may thaw without a reconcile. */
  wakeable: ManagedContainer[];
  left: Array<readonly [ManagedContainer, LeftAs]>;
  phase: NonNullable<ProjectStatus['phase']>;
  paused: number;
  stopped: number;
}

export function planActions(input: ActInput): ActPlan {
  const { decision, failure } = input;
  const keep = input.serving.slice(0, Math.max(decision.desired, 0));
  const surplus = input.serving.slice(keep.length);
  // Only running ones: a frozen container would hold requests until they time out.
  const outdatedRunning = input.outdated.filter((container) => container.state === 'running');
  // While a replacement cannot start, outdated instances keep serving rather than nothing.
  const keepOutdated = keep.length === 0 && failure !== undefined;
  const targets = keepOutdated ? outdatedRunning : keep;
  const waitingForMemory = failure?.reason === ProjectReason.InsufficientMemory;
  // Held requests are answered with the failure at once, except while a start waits for memory.
  const answerNow = failure !== undefined && targets.length === 0 && !waitingForMemory;
  const stillPaused = input.paused.filter((container) => !input.started.has(container.id));
  const stillStopped = input.stopped.filter((container) => !input.started.has(container.id));
  const pausing = decision.surplus === 'pause';
  const idle = [...surplus, ...stillPaused];
  const idleAs: LeftAs = pausing ? 'paused' : 'stopped';
  return {
    targets,
    surplus,
    pause: pausing ? surplus : [],
    stop: pausing ? [] : idle,
    remove: keepOutdated ? [] : [...input.outdated],
    unavailableReason: answerNow && failure ? publicMessageOf(failure) : undefined,
    wakeable: targets.length === 0 && !failure && pausing ? idle : [],
    left: [
      ...targets.map((container) => [container, 'running'] as const),
      ...idle.map((container) => [container, idleAs] as const),
      ...stillStopped.map((container) => [container, 'stopped'] as const),
    ],
    phase: waitingForMemory ? 'Starting' : failure ? 'Failed' : targets.length > 0 ? 'Running' : 'Idle',
    paused: pausing ? idle.length : 0,
    stopped: stillStopped.length + (pausing ? 0 : idle.length),
  };
}

/** What status says went wrong: the failure, or after a crash with no request since, the last crash. */
export function reportedFailure(
  failure: Failure | undefined,
  targets: number,
  loop: CrashLoopStatus | undefined,
  now: number,
): Failure | undefined {
  if (failure) return failure;
  // Scaled to zero after a crash, with no request since: status still says why the last start failed.
  const crashed = targets === 0 ? lastCrash(loop) : undefined;
  return crashed ? crashLoopFailure(crashed, now) : undefined;
}

/** When to look again: at the next idle tier, when a backoff ends, or as an error the queue retries. */
export function requeueFor(
  failure: Failure | undefined,
  decision: ScalingDecision,
  loop: CrashLoopStatus | undefined,
  now: number,
): ReconcileResult | Error {
  if (failure?.reason === ProjectReason.ImageNotFound) return { requeueAfterMs: IMAGE_RECHECK_MS };
  if (failure?.reason === ProjectReason.InsufficientMemory) return { requeueAfterMs: ADMISSION_RETRY_MS };
  // The crash loop keeps its own clock: look again when its backoff ends.
  const waitingOut = failure?.reason === ProjectReason.CrashLoopBackOff ? backingOff(loop, now) : undefined;
  if (waitingOut) return requeueAt(waitingOut.retryAt, now);
  if (failure) return new Error(failure.message);
  if (decision.nextCheckAt !== undefined)
    return { requeueAfterMs: Math.max(MIN_REQUEUE_MS, decision.nextCheckAt - now + 1) };
  return undefined;
}
