import { afterEach, describe, expect, it } from 'vitest';
import type { EventLog, LumaEvent } from '../../../src/events/event-log.js';

// What every EventLog does, wherever its events are kept: one suite, run by each
// implementation's test (test/unit/events/event-log.test.ts in memory,
// test/integration/store/postgres-event-log.test.ts on PostgreSQL). A shared log stores
// asynchronously, so each case awaits settled() before it reads.

export interface EventLogOpenOptions {
  capacity?: number;
  now?: () => number;
}

export interface EventLogHarness {
  /** Opens a log on the current test's state (a fresh one per test). */
  open(options?: EventLogOpenOptions): Promise<EventLog>;
}

export function eventLogCases(label: string, harness: EventLogHarness): void {
  const opened: EventLog[] = [];
  const open = async (options?: EventLogOpenOptions): Promise<EventLog> => {
    const log = await harness.open(options);
    opened.push(log);
    return log;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
  });

  describe(`${label}`, () => {
    it('counts repeats of the same event instead of storing them again, and moves them last', async () => {
      let now = Date.parse('2026-01-01T00:00:00Z');
      const log = await open({ now: () => now });
      const controller = log.recorder('controller');
      controller.record({ kind: 'Project', name: 'web' }, 'Warning', 'BackOff', 'the container exited with code 1');
      now += 5_000;
      controller.record({ kind: 'Project', name: 'api' }, 'Normal', 'ContainerStarted', 'started api-1');
      now += 5_000;
      controller.record({ kind: 'Project', name: 'web' }, 'Warning', 'BackOff', 'the container exited with code 1');
      await log.settled();
      const events = log.list();
      expect(events.map((event) => [event.object.name, event.count])).toEqual([
        ['api', 1],
        ['web', 2],
      ]);
      expect(events[1]).toMatchObject({
        firstTimestamp: '2026-01-01T00:00:00.000Z',
        lastTimestamp: '2026-01-01T00:00:10.000Z',
        source: 'controller',
        seq: 3,
      });
    });

    it('filters by kind, name and sequence, keeps only the newest, and tells subscribers', async () => {
      const log = await open({ capacity: 3 });
      const seen: LumaEvent[] = [];
      const stop = log.subscribe((event) => seen.push(event));
      for (let i = 0; i < 5; i++)
        log.record('sync', { kind: 'Lease', name: `l${i}` }, 'Normal', 'Applied', `applied l${i}`);
      await log.settled();
      stop();
      log.record('sync', { kind: 'Project', name: 'p' }, 'Normal', 'Applied', 'applied p');
      await log.settled();
      expect(seen.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(log.list().map((event) => event.object.name)).toEqual(['l3', 'l4', 'p']);
      expect(log.list({ kind: 'lease' }).map((event) => event.object.name)).toEqual(['l3', 'l4']);
      expect(log.list({ name: 'p' })).toHaveLength(1);
      expect(log.list({ afterSeq: 5 }).map((event) => event.object.name)).toEqual(['p']);
    });

    it('tells recorded-event subscribers of its own events once each, as stored', async () => {
      const log = await open();
      const recorded: LumaEvent[] = [];
      log.subscribeRecorded((event) => recorded.push(event));
      log.record('controller', { kind: 'Lease', name: 'l' }, 'Normal', 'LeaseActive', 'active');
      log.record('controller', { kind: 'Lease', name: 'l' }, 'Normal', 'LeaseActive', 'active');
      await log.settled();
      expect(recorded.map((event) => [event.seq, event.count])).toEqual([
        [1, 1],
        [2, 2],
      ]);
      expect(log.list()).toEqual([recorded[1]]);
    });

    it('a listener that throws breaks neither the recording nor the other listeners', async () => {
      const log = await open();
      const seen: string[] = [];
      log.subscribe(() => {
        throw new Error('broken listener');
      });
      log.subscribe((event) => seen.push(event.reason));
      log.record('api', { kind: 'Project', name: 'web' }, 'Normal', 'Applied', 'applied');
      await log.settled();
      expect(seen).toEqual(['Applied']);
      expect(log.list()).toHaveLength(1);
    });
  });
}
