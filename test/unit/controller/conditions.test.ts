import { describe, expect, it } from 'vitest';
import { findCondition, setCondition, setReadiness } from '../../../src/controller/conditions.js';
import type { Condition } from '../../../src/model/types.js';

const T1 = new Date('2025-01-01T00:00:00.000Z');
const T2 = new Date('2025-01-01T00:05:00.000Z');

const readyTrue = { type: 'Ready', status: 'True' as const, reason: 'Running', message: '1 instance(s) serving' };

describe('setCondition', () => {
  it('adds a new condition with the current time as its transition time', () => {
    expect(setCondition(undefined, readyTrue, T1)).toEqual([{ ...readyTrue, lastTransitionTime: T1.toISOString() }]);
    expect(setCondition([], readyTrue, T1)).toEqual([{ ...readyTrue, lastTransitionTime: T1.toISOString() }]);
  });

  it('keeps the transition time when the status stays the same, even as reason and message change', () => {
    const first = setCondition(undefined, readyTrue, T1);
    const second = setCondition(
      first,
      { type: 'Ready', status: 'True', reason: 'ScaledToZero', message: 'no instance runs' },
      T2,
    );
    expect(second).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'ScaledToZero',
        message: 'no instance runs',
        lastTransitionTime: T1.toISOString(),
      },
    ]);
  });

  it('moves the transition time when the status flips', () => {
    const first = setCondition(undefined, readyTrue, T1);
    const flipped = setCondition(
      first,
      { type: 'Ready', status: 'False', reason: 'ImageNotFound', message: 'gone' },
      T2,
    );
    expect(findCondition(flipped, 'Ready')).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'ImageNotFound',
      message: 'gone',
      lastTransitionTime: T2.toISOString(),
    });
    const third = new Date('2025-01-01T01:00:00.000Z');
    expect(findCondition(setCondition(flipped, readyTrue, third), 'Ready')?.lastTransitionTime).toBe(
      third.toISOString(),
    );
  });

  it('treats Unknown as a status of its own', () => {
    const unknown = setCondition(undefined, { type: 'Ready', status: 'Unknown', reason: 'Pending', message: '' }, T1);
    expect(findCondition(setCondition(unknown, readyTrue, T2), 'Ready')?.lastTransitionTime).toBe(T2.toISOString());
  });

  it('leaves other condition types alone and keeps one entry per type, sorted by type', () => {
    const existing: Condition[] = [
      { type: 'Scheduled', status: 'True', reason: 'Placed', message: '', lastTransitionTime: 'then' },
      { type: 'Ready', status: 'False', reason: 'Starting', message: '', lastTransitionTime: 'earlier' },
    ];
    const before = structuredClone(existing);
    const next = setCondition(existing, { type: 'Available', status: 'True', reason: 'Up', message: '' }, T1);
    expect(next.map((condition) => condition.type)).toEqual(['Available', 'Ready', 'Scheduled']);
    expect(findCondition(next, 'Scheduled')?.lastTransitionTime).toBe('then');
    const replaced = setCondition(next, readyTrue, T2);
    expect(replaced.filter((condition) => condition.type === 'Ready')).toHaveLength(1);
    // The input is not changed.
    expect(existing).toEqual(before);
  });
});

describe('findCondition', () => {
  it('finds by type, or nothing', () => {
    const conditions = setCondition(undefined, readyTrue, T1);
    expect(findCondition(conditions, 'Ready')?.reason).toBe('Running');
    expect(findCondition(conditions, 'Other')).toBeUndefined();
    expect(findCondition(undefined, 'Ready')).toBeUndefined();
  });
});

describe('setReadiness', () => {
  const statuses = (conditions: Condition[]): Record<string, string> =>
    Object.fromEntries(conditions.map((condition) => [condition.type, `${condition.status}/${condition.reason}`]));

  it.each([
    ['ready', { Ready: 'True/Running', Reconciling: 'False/Running', Stalled: 'False/Running' }],
    ['reconciling', { Ready: 'False/Running', Reconciling: 'True/Running', Stalled: 'False/Running' }],
    ['stalled', { Ready: 'False/Running', Reconciling: 'False/Running', Stalled: 'True/Running' }],
    ['ended', { Ready: 'False/Running', Reconciling: 'False/Running', Stalled: 'False/Running' }],
  ] as const)('%s sets Ready, Reconciling and Stalled with one reason', (state, expected) => {
    expect(statuses(setReadiness(undefined, { state, reason: 'Running', message: 'm' }, T1))).toEqual(expected);
  });

  it('turns Ready False at once when a running object stalls (a crash loop), moving only the flipped transition times', () => {
    const running = setReadiness(
      undefined,
      { state: 'ready', reason: 'Running', message: '1 instance(s) serving' },
      T1,
    );
    const looping = setReadiness(
      running,
      { state: 'stalled', reason: 'CrashLoopBackOff', message: 'the container exited 3 times' },
      T2,
    );
    expect(findCondition(looping, 'Ready')).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'CrashLoopBackOff',
      message: 'the container exited 3 times',
      lastTransitionTime: T2.toISOString(),
    });
    expect(findCondition(looping, 'Stalled')?.lastTransitionTime).toBe(T2.toISOString());
    expect(findCondition(looping, 'Reconciling')).toMatchObject({
      status: 'False',
      lastTransitionTime: T1.toISOString(),
    });
  });

  it('keeps conditions of other types', () => {
    const existing: Condition[] = [
      { type: 'Synced', status: 'True', reason: 'Applied', message: '', lastTransitionTime: 'then' },
    ];
    expect(
      setReadiness(existing, { state: 'ready', reason: 'Built', message: '' }, T1).map((condition) => condition.type),
    ).toEqual(['Ready', 'Reconciling', 'Stalled', 'Synced']);
  });
});
