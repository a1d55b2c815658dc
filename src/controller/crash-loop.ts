// Crash loops: an app that exits instead of becoming ready (or dies while serving) is
// restarted after a delay that starts at 1 s and doubles up to a cap, as Kubernetes does
// with CrashLoopBackOff. Pure bookkeeping with an injected clock; the project reconciler
// decides what to do with it.

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

export class CrashLoopTracker {
  private readonly loops = new Map<string, CrashLoopState>();
  private readonly readyAt = new Map<string, number>();
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly stableRunMs: number;

  constructor(
    private readonly now: () => number,
    options: CrashLoopOptions = {},
  ) {
    this.initialMs = options.initialMs ?? CRASH_BACKOFF_INITIAL_MS;
    this.maxMs = options.maxMs ?? CRASH_BACKOFF_MAX_MS;
    this.stableRunMs = options.stableRunMs ?? CRASH_STABLE_RUN_MS;
  }

  /** Records a crash and says how long to wait before the next start. */
  recordCrash(key: string, crash: Crash): CrashLoopState {
    const now = this.now();
    const readyAt = this.readyAt.get(key);
    const ranLongEnough = readyAt !== undefined && now - readyAt >= this.stableRunMs;
    const crashes = ranLongEnough ? 1 : (this.loops.get(key)?.crashes ?? 0) + 1;
    this.readyAt.delete(key);
    const backoffMs = backoffFor(crashes, this.initialMs, this.maxMs);
    const state: CrashLoopState = { ...crash, crashes, backoffMs, retryAt: now + backoffMs };
    this.loops.set(key, state);
    return state;
  }

  /**
   * An instance became ready: the loop may be over. The count is kept until the instance
   * has run for the stable period, so that an app that crashes soon after becoming ready
   * still backs off further each time.
   */
  recordReady(key: string): void {
    this.readyAt.set(key, this.now());
  }

  /** The loop while its backoff runs; undefined once a start may be tried. */
  backingOff(key: string): CrashLoopState | undefined {
    const state = this.loops.get(key);
    return state && this.now() < state.retryAt ? state : undefined;
  }

  /** The last crash, while no instance has become ready since. */
  lastCrash(key: string): CrashLoopState | undefined {
    return this.readyAt.has(key) ? undefined : this.loops.get(key);
  }

  /** Drops the loops of deleted projects and of specs that changed since. */
  forgetWhere(matches: (key: string) => boolean): void {
    for (const key of [...this.loops.keys(), ...this.readyAt.keys()]) {
      if (!matches(key)) continue;
      this.loops.delete(key);
      this.readyAt.delete(key);
    }
  }
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
