import type { ProcessGroup } from './processes.js';

// One `wrk --latency -t1` run and its figures.

export interface WrkOptions {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
  cpus?: string | undefined;
}

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Connect, read, write and timeout errors, plus non-2xx/3xx answers. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(value: string, unit: string): number {
  const factor = UNIT_MS[unit];
  if (factor === undefined) throw new Error(`wrk: unknown time unit "${unit}"`);
  return Number(value) * factor;
}

export function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const total = /(\d+) requests in /.exec(output);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(output);
  if (!rps?.[1] || !total?.[1] || !p50?.[1] || !p50[2] || !p99?.[1] || !p99[2])
    throw new Error(`could not read wrk's output:\n${output}`);
  let errors = 0;
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  if (socketErrors) errors += socketErrors.slice(1).reduce((sum, count) => sum + Number(count), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  if (non2xx?.[1]) errors += Number(non2xx[1]);
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: durationMs(p50[1], p50[2]),
    p99Ms: durationMs(p99[1], p99[2]),
    requests: Number(total[1]),
    errors,
  };
}

export async function runWrk(processes: ProcessGroup, options: WrkOptions): Promise<WrkResult> {
  const args = ['--latency', '-t1', `-c${options.connections}`, `-d${options.durationS}s`];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  const output = await processes.run('wrk', 'wrk', args, {
    cpus: options.cpus,
    timeoutMs: (options.durationS + 30) * 1000,
  });
  return parseWrk(output);
}
