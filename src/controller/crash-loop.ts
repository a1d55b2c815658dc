import type { CrashLoopStatus } from '../model/types.js';

// Crash loops: an app that exits instead of becoming ready (or dies while serving) is
// restarted after a delay that starts at 1 s and doubles up to a cap, as Kubernetes does
// with CrashLoopBackOff. Pure functions over the loop as status keeps it (a restarted
// controller reads it back and keeps backing off); the project reconciler decides what
// to do with it.

export const CRASH_BACKOFF_INITIAL_MS = 1_000;
export const CRASH_BACKOFF_MAX_MS = 60_000;
/** An instance that ran this long after it became ready is no longer part of a loop. */
export const CRASH_STABLE_RUN_MS = 30_000;
/** Lines of the app's log kept for the status message. */
export const CRASH_LOG_LINES = 5;

export interface Crash {
  exitCode: number | undefined;
  /** The last lines the app wrote, oldest first. */
  lastLines: string[];
}

/** The loop with its clock as numbers, for messages and decisions. */
export interface CrashLoopState extends Crash {
  /** Crashes in a row, counting this one. */
  crashes: number;
  /** The delay before the next start, and when it ends. */
  backoffMs: number;
  retryAt: number;
}

export interface CrashLoopOptions {
  initialMs?: number;
  maxMs?: number;
  stableRunMs?: number;
}

export function backoffFor(
  crashes: number,
  initialMs = CRASH_BACKOFF_INITIAL_MS,
  maxMs = CRASH_BACKOFF_MAX_MS,
): number {
  // Capped before exponentiation grows past what a double holds exactly.
  const doublings = Math.min(Math.max(crashes - 1, 0), 30);
  return Math.min(maxMs, initialMs * 2 ** doublings);
}

/** The loop of this spec, if status holds one: a loop of an older spec is over. */
export function loopOf(status: CrashLoopStatus | undefined, specHash: string): CrashLoopStatus | undefined {
  return status?.specHash === specHash ? status : undefined;
}

/** A crash: the count goes up (or starts over after a run that lasted), and so does the delay. */
export function recordCrash(
  previous: CrashLoopStatus | undefined,
  specHash: string,
  crash: Crash,
  now: number,
  options: CrashLoopOptions = {},
): CrashLoopStatus {
  const readyAt = previous?.readyAt === undefined ? undefined : Date.parse(previous.readyAt);
  const ranLongEnough = readyAt !== undefined && now - readyAt >= (options.stableRunMs ?? CRASH_STABLE_RUN_MS);
  const crashes = ranLongEnough ? 1 : (loopOf(previous, specHash)?.crashes ?? 0) + 1;
  const backoffMs = backoffFor(crashes, options.initialMs, options.maxMs);
  return {
    specHash,
    crashes,
    ...(crash.exitCode !== undefined ? { exitCode: crash.exitCode } : {}),
    lastLines: [...crash.lastLines],
    backoffMs,
    retryAt: new Date(now + backoffMs).toISOString(),
  };
}

/**
 * An instance became ready: the loop may be over. The count is kept until the instance
 * has run for the stable period, so that an app that crashes soon after becoming ready
 * still backs off further each time.
 */
export function recordReady(loop: CrashLoopStatus, now: number): CrashLoopStatus {
  return { ...loop, readyAt: new Date(now).toISOString() };
}

/** The loop while its backoff runs; undefined once a start may be tried. */
export function backingOff(loop: CrashLoopStatus | undefined, now: number): CrashLoopState | undefined {
  return loop && now < Date.parse(loop.retryAt) ? stateOf(loop) : undefined;
}

/** The last crash, while no instance has become ready since. */
export function lastCrash(loop: CrashLoopStatus | undefined): CrashLoopState | undefined {
  return loop && loop.readyAt === undefined ? stateOf(loop) : undefined;
}

export function stateOf(loop: CrashLoopStatus): CrashLoopState {
  return {
    exitCode: loop.exitCode,
    lastLines: loop.lastLines,
    crashes: loop.crashes,
    backoffMs: loop.backoffMs,
    retryAt: Date.parse(loop.retryAt),
  };
}

/** One line for HTTP clients: no app output (it may hold secrets), the code and when Luma retries. */
export function crashLoopReason(state: CrashLoopState, now: number): string {
  const when = state.retryAt > now ? `in ${secondsLeft(state, now)}s` : 'on the next request';
  return `CrashLoopBackOff: the app keeps exiting (it ${exitWords(state)}); Luma starts it again ${when}`;
}

/** For status: the exit code, how often, when next (or that a start runs now), and the app's last lines. */
export function crashLoopMessage(state: CrashLoopState, now: number, starting = false): string {
  const lines =
    state.lastLines.length > 0 ? `; last log lines:\n${state.lastLines.join('\n')}` : '; it wrote nothing to its log';
  const when = starting
    ? 'starting it again'
    : state.retryAt > now
      ? `next start in ${secondsLeft(state, now)}s`
      : 'the next request starts it again';
  return `the app ${exitWords(state)} (${state.crashes} crash${state.crashes === 1 ? '' : 'es'} in a row); ${when}${lines}`;
}

function exitWords(state: Crash): string {
  return state.exitCode === undefined ? 'exited' : `exited with code ${state.exitCode}`;
}

function secondsLeft(state: CrashLoopState, now: number): number {
  return Math.max(0, Math.ceil((state.retryAt - now) / 1000));
}
