import type { ProcessGroup } from './processes.js';

// One h2load run (nghttp2's load generator) and its figures: HTTP/2 with several streams
// per connection, or HTTP/1.1 (--h1) for a fixed number of requests.

export interface H2loadResult {
  requestsPerSecond: number;
  /** Mean time per request, from h2load's "time for request" line. */
  meanMs: number;
  succeeded: number;
  /** Failed or errored requests, plus non-2xx answers. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

export function parseH2load(output: string): H2loadResult {
  const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(output);
  const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
    output,
  );
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  const time = /time for request:\s+[\d.]+(?:us|ms|s)\s+[\d.]+(?:us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(output);
  if (!rps?.[1] || !requests || !statuses || !time?.[1] || !time[2])
    throw new Error(`could not read h2load's output:\n${output}`);
  return {
    requestsPerSecond: Number(rps[1]),
    meanMs: Number(time[1]) * (UNIT_MS[time[2]] ?? NaN),
    succeeded: Number(requests[1]),
    errors: Number(requests[2]) + Number(requests[3]) + Number(statuses[3]) + Number(statuses[4]),
  };
}

export interface H2loadOptions {
  url: string;
  clients: number;
  /** Streams in flight per connection (-m); 1 for HTTP/1.1. */
  streams: number;
  /** Timed run (-D) or a fixed number of requests (-n). */
  run: { durationS: number } | { requests: number };
  http1?: boolean;
}

export async function runH2load(processes: ProcessGroup, options: H2loadOptions): Promise<H2loadResult> {
  const args = [`-c${options.clients}`, `-m${options.streams}`, ...(options.http1 ? ['--h1'] : [])];
  args.push(
    ...('durationS' in options.run ? ['-D', String(options.run.durationS)] : ['-n', String(options.run.requests)]),
  );
  args.push(options.url);
  const limitS = 'durationS' in options.run ? options.run.durationS + 30 : 120;
  return parseH2load(await processes.run('h2load', 'h2load', args, { timeoutMs: limitS * 1000 }));
}
