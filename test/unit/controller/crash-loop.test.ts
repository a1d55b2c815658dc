import { describe, expect, it } from 'vitest';
import {
  backoffFor,
  CRASH_BACKOFF_MAX_MS,
  CrashLoopTracker,
  crashLoopMessage,
  crashLoopReason,
} from '../../../src/controller/crash-loop.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';

// The crash-loop backoff on an injected clock: 1 s doubling to the cap, reset only by a
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

describe('CrashLoopTracker', () => {
  it('backs off 1 s, 2 s, 4 s after crashes in a row, and lets a start through once each backoff has passed', () => {
    const clock = new FakeClock(0);
    const tracker = new CrashLoopTracker(() => clock.now());
    expect(tracker.backingOff('web')).toBeUndefined();

    expect(tracker.recordCrash('web', CRASH)).toMatchObject({
      crashes: 1,
      backoffMs: 1_000,
      retryAt: 1_000,
      exitCode: 3,
    });
    clock.advance(999);
    expect(tracker.backingOff('web')?.crashes).toBe(1);
    clock.advance(1);
    expect(tracker.backingOff('web')).toBeUndefined();

    expect(tracker.recordCrash('web', CRASH)).toMatchObject({ crashes: 2, backoffMs: 2_000, retryAt: 3_000 });
    clock.advance(2_000);
    expect(tracker.recordCrash('web', CRASH)).toMatchObject({ crashes: 3, backoffMs: 4_000 });
    expect(tracker.backingOff('other')).toBeUndefined();
  });

  it('keeps counting when the app crashes soon after becoming ready, and starts over after a run that lasted', () => {
    const clock = new FakeClock(0);
    const tracker = new CrashLoopTracker(() => clock.now(), { stableRunMs: 30_000 });
    tracker.recordCrash('web', CRASH);
    tracker.recordReady('web');
    expect(tracker.lastCrash('web')).toBeUndefined();
    clock.advance(5_000);
    expect(tracker.recordCrash('web', CRASH).crashes).toBe(2);
    tracker.recordReady('web');
    clock.advance(30_000);
    expect(tracker.recordCrash('web', CRASH)).toMatchObject({ crashes: 1, backoffMs: 1_000 });
  });

  it('forgets the loops it is told to (a deleted project, a changed spec)', () => {
    const clock = new FakeClock(0);
    const tracker = new CrashLoopTracker(() => clock.now());
    tracker.recordCrash('web/aaa', CRASH);
    tracker.recordCrash('api/bbb', CRASH);
    tracker.forgetWhere((key) => key.startsWith('web/'));
    expect(tracker.backingOff('web/aaa')).toBeUndefined();
    expect(tracker.backingOff('api/bbb')).toBeDefined();
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
