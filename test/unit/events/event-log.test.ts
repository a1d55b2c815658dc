import { describe, expect, it } from 'vitest';
import { MemoryEventLog, type LumaEvent } from '../../../src/events/event-log.js';
import { eventLogCases } from './event-log.cases.js';

// The event log of one process (the embedded default): the shared suite, in memory.
eventLogCases('MemoryEventLog', { open: async (options) => new MemoryEventLog(options) });

// Events numbered elsewhere (PostgresEventLog shows the database's through accept).
describe('MemoryEventLog.accept', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const event = (seq: number, name: string, count = 1): LumaEvent => ({
    seq,
    type: 'Normal',
    reason: 'Started',
    message: `${name} started`,
    object: { kind: 'Project', name },
    source: 'controller',
    count,
    firstTimestamp: at,
    lastTimestamp: at,
  });
  const shown = (log: MemoryEventLog): [number, string, number][] =>
    log.list().map((each) => [each.seq, each.object.name, each.count]);

  it('keeps seq order when one arrives late, and ignores an occurrence older than the one shown', () => {
    const log = new MemoryEventLog();
    for (const each of [event(1, 'a'), event(4, 'b'), event(2, 'c'), event(3, 'd')])
      expect(log.accept(each)).toBe(true);
    expect(shown(log)).toEqual([
      [1, 'a', 1],
      [2, 'c', 1],
      [3, 'd', 1],
      [4, 'b', 1],
    ]);
    expect(log.accept(event(2, 'b'))).toBe(false);
    expect(log.accept(event(5, 'a', 2))).toBe(true);
    expect(shown(log).map(([seq, name]) => `${seq}${name}`)).toEqual(['2c', '3d', '4b', '5a']);
    expect(log.record('controller', { kind: 'Project', name: 'c' }, 'Normal', 'Started', 'c started').count).toBe(2);
    expect(shown(log).map(([seq, name, count]) => `${seq}${name}${count}`)).toEqual(['3d1', '4b1', '5a2', '6c2']);
  });

  it('keeps only the newest `capacity`, dropping the oldest by seq', () => {
    const log = new MemoryEventLog({ capacity: 2 });
    for (const each of [event(5, 'a'), event(3, 'b'), event(4, 'c')]) log.accept(each);
    expect(shown(log).map(([seq]) => seq)).toEqual([4, 5]);
  });
});
