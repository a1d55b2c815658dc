import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from './common.js';

// Reads the wake trace that `luma up` writes with LUMA_WAKE_TRACE=1 (src/util/wake-trace.ts)
// and breaks a paused project's time to first byte into its steps, from the client's send
// to its first byte, p50 and p95 of each step over the rounds.

export const WAKE_TRACE_ENV = 'LUMA_WAKE_TRACE';
/** Luma writes its stamps a second after the first one; a little more to be sure. */
const FLUSH_WAIT_MS = 1_300;

interface Stamp {
  wakeTrace: string;
  subject: string;
  at: number;
}

export interface WakeRound {
  sentAt: number;
  headAt: number;
  stamps: Stamp[];
}

/** The steps in the order a wake goes through them, each named for what ends at it. */
const STEPS: Array<[step: string, label: string]> = [
  ['proxy-hold', 'client send → proxy holds the request (accept, parse, route lookup)'],
  ['controller-wake', 'hold → controller told (wake hook)'],
  ['runtime-unpause-call', 'wake → unpause call sent (fast path: candidate, preconnect)'],
  ['runtime-unpause-answered', "Luma's unpause call (Engine API)"],
  ['proxy-deploy', 'unpause answered → route deploy asked (fast path: metrics, event)'],
  ['proxy-route-applied', 'deploy → route applied (target known)'],
  ['proxy-forward', 'route applied → held request forwarded'],
  ['proxy-response-head', 'forward → response head from the app'],
];

function parseStamps(output: string): Stamp[] {
  const stamps: Stamp[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{"wakeTrace"')) continue;
    try {
      stamps.push(JSON.parse(line) as Stamp);
    } catch {
      // a line cut by the pipe: skipped
    }
  }
  return stamps;
}

/** The stamps written at or after `since`, once Luma has flushed them. */
export async function stampsSince(output: () => string, since: number): Promise<Stamp[]> {
  await sleep(FLUSH_WAIT_MS);
  return parseStamps(output()).filter((stamp) => stamp.at >= since);
}

/** Per step, the milliseconds from the step before it (the client's send first); NaN when missing. */
function stepDurations(round: WakeRound): number[] {
  let previous = round.sentAt;
  const durations: number[] = [];
  for (const [step] of STEPS) {
    const stamp = round.stamps.find((candidate) => candidate.wakeTrace === step && candidate.at >= previous);
    if (!stamp) {
      durations.push(NaN);
      continue;
    }
    durations.push(stamp.at - previous);
    previous = stamp.at;
  }
  durations.push(round.headAt - previous);
  return durations;
}

/** A table of the steps' p50 and p95, and the time to first byte set against the engine's unpause call. */
export function formatBreakdown(rounds: WakeRound[], unpauseP50: number): string {
  const perRound = rounds.map(stepDurations);
  const labels = [...STEPS.map(([, label]) => label), 'response head → client has its first byte'];
  const lines = [
    `Paused tier, where the time to first byte went (${rounds.length} rounds, ms):`,
    '',
    '| step | p50 | p95 |',
    '|---|---:|---:|',
  ];
  labels.forEach((label, index) => {
    const values = perRound.map((durations) => durations[index] ?? NaN).filter((value) => !Number.isNaN(value));
    lines.push(`| ${label} | ${percentile(values, 50).toFixed(2)} | ${percentile(values, 95).toFixed(2)} |`);
  });
  const totals = rounds.map((round) => round.headAt - round.sentAt);
  const outside = perRound.map((durations, index) => (totals[index] ?? 0) - (durations[3] ?? 0));
  lines.push(
    `| **time to first byte** | ${percentile(totals, 50).toFixed(2)} | ${percentile(totals, 95).toFixed(2)} |`,
  );
  lines.push(
    `| everything but Luma's unpause call | ${percentile(outside, 50).toFixed(2)} | ${percentile(outside, 95).toFixed(2)} |`,
  );
  lines.push('', `The bench's own unpause call, p50: ${unpauseP50.toFixed(2)} ms.`);
  return lines.join('\n');
}

/** One round on one line: the time to first byte, Luma's unpause call and the rest. */
export function describeRound(round: WakeRound): string {
  const durations = stepDurations(round);
  const total = round.headAt - round.sentAt;
  const unpause = durations[3] ?? NaN;
  return `ttfb ${total.toFixed(1)} ms = unpause ${unpause.toFixed(1)} + rest ${(total - unpause).toFixed(1)} (${durations.map((value) => value.toFixed(2)).join(' ')})`;
}
