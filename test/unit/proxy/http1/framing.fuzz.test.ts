import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAMING_EXAMPLES } from '../../../support/fuzz/http-examples.js';
import { observeBoth, type Transport } from '../../../support/fuzz/http-differential.js';
import { replayable, verdict } from '../../../support/fuzz/http-oracle.js';
import { streamCase, type StreamCase } from '../../../support/fuzz/http-streams.js';

// Differential fuzzing of the proxy's HTTP/1.1 framing: every stream goes through a
// ProxyServer with its fast path and through one with node:http (llhttp) only, each in
// front of a node:http backend that records what it parsed. Both must give the backend
// the same requests and the client the same responses, or the fast path must refuse
// (see http-oracle.ts). The same again over TLS: the HTTPS listener's HTTP/1.1 connections
// start on the same fast path. LUMA_FUZZ_RUNS sets the random cases (default 3,000 in the
// clear, a third of that over TLS, where a case costs two handshakes more);
// LUMA_FUZZ_SEED replays a run; a failure prints the shrunk case as the writes to paste
// into http-examples.ts.

const RUNS = Number(process.env.LUMA_FUZZ_RUNS ?? 3_000);
const RUNS_BY_TRANSPORT: Record<Transport, number> = { tcp: RUNS, tls: Math.max(1, Math.round(RUNS / 3)) };
const SEED = process.env.LUMA_FUZZ_SEED === undefined ? undefined : Number(process.env.LUMA_FUZZ_SEED);
/** Well above the measured time per case (about 8 ms for both paths), for a loaded machine. */
const timeoutMs = (runs: number): number => Math.max(60_000, runs * 100);
/** One case taking this long is a failure of its own (a hang), shrunk and printed like a divergence. */
const CASE_TIMEOUT_MS = 10_000;

async function expectSameOrRefused(stream: StreamCase, transport: Transport): Promise<void> {
  const { fast, node } = await observeBoth(stream, transport);
  const result = verdict(fast, node, transport);
  if (result.kind === 'divergence')
    expect.fail(`the fast path and node:http diverge on writes ${replayable(stream)}\n${result.report}`);
}

describe.each(['tcp', 'tls'] as const)(
  'the fast path frames requests as llhttp does, or refuses them (%s)',
  (transport) => {
    for (const example of FRAMING_EXAMPLES) {
      it(`example: ${example.name}`, async () => {
        await expectSameOrRefused({ writes: example.writes }, transport);
      });
    }

    const runs = RUNS_BY_TRANSPORT[transport];
    it(
      `${runs} generated streams: same requests at the app, same bytes at the client`,
      { timeout: timeoutMs(runs) },
      async () => {
        await fc.assert(
          fc.asyncProperty(streamCase, (stream) => expectSameOrRefused(stream, transport)),
          {
            numRuns: runs,
            timeout: CASE_TIMEOUT_MS,
            ...(SEED === undefined ? {} : { seed: SEED }),
          },
        );
      },
    );
  },
);
