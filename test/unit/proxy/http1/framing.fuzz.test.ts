import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAMING_EXAMPLES } from '../../../support/fuzz/http-examples.js';
import { observeBoth } from '../../../support/fuzz/http-differential.js';
import { replayable, verdict } from '../../../support/fuzz/http-oracle.js';
import { streamCase, type StreamCase } from '../../../support/fuzz/http-streams.js';

// Differential fuzzing of the proxy's HTTP/1.1 framing: every stream goes through a
// ProxyServer with its fast path and through one with node:http (llhttp) only, each in
// front of a node:http backend that records what it parsed. Both must give the backend
// the same requests and the client the same responses, or the fast path must refuse
// (see http-oracle.ts). LUMA_FUZZ_RUNS sets the random cases (default 3,000);
// LUMA_FUZZ_SEED replays a run; a failure prints the shrunk case as the writes to paste
// into http-examples.ts.

const RUNS = Number(process.env.LUMA_FUZZ_RUNS ?? 3_000);
const SEED = process.env.LUMA_FUZZ_SEED === undefined ? undefined : Number(process.env.LUMA_FUZZ_SEED);
/** Well above the measured time per case (about 8 ms for both paths), for a loaded machine. */
const TIMEOUT_MS = Math.max(60_000, RUNS * 100);
/** One case taking this long is a failure of its own (a hang), shrunk and printed like a divergence. */
const CASE_TIMEOUT_MS = 10_000;

async function expectSameOrRefused(stream: StreamCase): Promise<void> {
  const { fast, node } = await observeBoth(stream);
  const result = verdict(fast, node);
  if (result.kind === 'divergence')
    expect.fail(`the fast path and node:http diverge on writes ${replayable(stream)}\n${result.report}`);
}

describe('the fast path frames requests as llhttp does, or refuses them', () => {
  for (const example of FRAMING_EXAMPLES) {
    it(`example: ${example.name}`, async () => {
      await expectSameOrRefused({ writes: example.writes });
    });
  }

  it(
    `${RUNS} generated streams: same requests at the app, same bytes at the client`,
    { timeout: TIMEOUT_MS },
    async () => {
      await fc.assert(fc.asyncProperty(streamCase, expectSameOrRefused), {
        numRuns: RUNS,
        timeout: CASE_TIMEOUT_MS,
        ...(SEED === undefined ? {} : { seed: SEED }),
      });
    },
  );
});
