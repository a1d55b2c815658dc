import { describe, expect, it } from 'vitest';
import {
  backoffFor,
  CRASH_BACKOFF_MAX_MS,
  backingOff,
  crashLoopMessage,
  crashLoopReason,
  lastCrash,
  loopOf,
  recordCrash,
  recordReady,
} from '../../../src/controller/crash-loop.js';
import type { CrashLoopStatus } from '../../../src/model/types.js';

// The crash-loop backoff with the time given: 1 s doubling to the cap, reset only by a
// run that lasted, and what status and HTTP clients are told.

const CRASH = { exitCode: 3, lastLines: ['starting', 'boom: no DATABASE_URL'] };

describe('backoffFor', () => {
  it('starts at 1 s and doubles to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((crashes) => backoffFor(crashes))).toEqual([
      1_000,
      2_000,
      4_000,
      8_000,
      16_000,
      32_000,
      CRASH_BACKOFF_MAX_MS,
    ]);
    expect(backoffFor(1_000)).toBe(CRASH_BACKOFF_MAX_MS);
    expect(backoffFor(0)).toBe(1_000);
  });
});

describe('the crash loop as status keeps it', () => {
  const at = (loop: CrashLoopStatus | undefined): number | undefined =>
    loop === undefined ? undefined : Date.parse(loop.retryAt);

  it('backs off 1 s, 2 s, 4 s after crashes in a row, and lets a start through once each backoff has passed', () => {
    expect(backingOff(undefined, 0)).toBeUndefined();
    let loop = recordCrash(undefined, 'h1', CRASH, 0);
    expect(loop).toMatchObject({ specHash: 'h1', crashes: 1, backoffMs: 1_000, exitCode: 3 });
    expect(at(loop)).toBe(1_000);
    expect(backingOff(loop, 999)?.crashes).toBe(1);
    expect(backingOff(loop, 1_000)).toBeUndefined();

    loop = recordCrash(loop, 'h1', CRASH, 1_000);
    expect(loop).toMatchObject({ crashes: 2, backoffMs: 2_000 });
    expect(at(loop)).toBe(3_000);
    expect(recordCrash(loop, 'h1', CRASH, 3_000)).toMatchObject({ crashes: 3, backoffMs: 4_000 });
  });

  it('survives a round trip through JSON (a restarted controller reads it back)', () => {
    const loop = recordCrash(recordCrash(undefined, 'h1', CRASH, 0), 'h1', CRASH, 1_000);
    const read = JSON.parse(JSON.stringify(loop)) as CrashLoopStatus;
    expect(backingOff(read, 2_999)).toMatchObject({ crashes: 2, retryAt: 3_000 });
    expect(recordCrash(read, 'h1', CRASH, 3_000).crashes).toBe(3);
  });

  it('keeps counting when the app crashes soon after becoming ready, and starts over after a run that lasted', () => {
    let loop = recordReady(recordCrash(undefined, 'h1', CRASH, 0), 0);
    expect(lastCrash(loop)).toBeUndefined();
    loop = recordCrash(loop, 'h1', CRASH, 5_000);
    expect(loop.crashes).toBe(2);
    loop = recordReady(loop, 5_000);
    expect(recordCrash(loop, 'h1', CRASH, 35_000)).toMatchObject({ crashes: 1, backoffMs: 1_000 });
  });

  it('starts over for another spec (a fix is not made to wait out the old loop)', () => {
    const loop = recordCrash(undefined, 'h1', CRASH, 0);
    expect(loopOf(loop, 'h2')).toBeUndefined();
    expect(recordCrash(loop, 'h2', CRASH, 100)).toMatchObject({ specHash: 'h2', crashes: 1 });
  });
});

describe('what the loop says', () => {
  const state = { ...CRASH, crashes: 2, backoffMs: 2_000, retryAt: 10_000 };

  it('tells status the exit code, the count, when the next start comes and the last log lines', () => {
    expect(crashLoopMessage(state, 8_500)).toBe(
      'the app exited with code 3 (2 crashes in a row); next start in 2s; last log lines:\nstarting\nboom: no DATABASE_URL',
    );
    expect(crashLoopMessage({ ...state, lastLines: [] }, 12_000)).toBe(
      'the app exited with code 3 (2 crashes in a row); the next request starts it again; it wrote nothing to its log',
    );
  });

  it('tells HTTP clients the reason and when, but none of the app output (it may hold secrets)', () => {
    expect(crashLoopReason(state, 8_500)).toBe(
      'CrashLoopBackOff: the app keeps exiting (it exited with code 3); Luma starts it again in 2s',
    );
    expect(crashLoopReason(state, 8_500)).not.toContain('DATABASE_URL');
  });
});
