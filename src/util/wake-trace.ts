// A bench-only trace of a held request's way through a wake (bench/coldstart --trace). With
// LUMA_WAKE_TRACE=1 in the environment, each step is stamped with the wall clock to the
// microsecond, kept in memory and written to stderr as JSON lines a second later, so that
// no write lands inside the path being timed. Without it, a step costs one test of a constant.

const ENABLED = process.env.LUMA_WAKE_TRACE === '1';
const FLUSH_AFTER_MS = 1_000;

export type WakeStep =
  | 'proxy-hold'
  | 'controller-wake'
  | 'runtime-unpause-call'
  | 'runtime-unpause-answered'
  | 'proxy-deploy'
  | 'proxy-route-applied'
  | 'proxy-forward'
  | 'proxy-response-head';

interface Stamp {
  wakeTrace: WakeStep;
  subject: string;
  /** Milliseconds since the epoch, with fractions: comparable across processes. */
  at: number;
}

const stamps: Stamp[] = [];
let flushTimer: NodeJS.Timeout | undefined;

export function traceWake(step: WakeStep, subject: string): void {
  if (!ENABLED) return;
  stamps.push({ wakeTrace: step, subject, at: performance.timeOrigin + performance.now() });
  flushTimer ??= setTimeout(flush, FLUSH_AFTER_MS).unref();
}

function flush(): void {
  flushTimer = undefined;
  const lines = stamps.splice(0).map((stamp) => JSON.stringify(stamp));
  if (lines.length > 0) process.stderr.write(`${lines.join('\n')}\n`);
}
