import { describe, expect, it } from 'vitest';
import { EventLog, type LumaEvent } from '../../../src/events/event-log.js';

describe('EventLog', () => {
  it('counts repeats of the same event instead of storing them again, and moves them last', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const log = new EventLog({ now: () => now });
    const controller = log.recorder('controller');
    controller.record({ kind: 'Project', name: 'web' }, 'Warning', 'BackOff', 'the container exited with code 1');
    now += 5_000;
    controller.record({ kind: 'Project', name: 'api' }, 'Normal', 'ContainerStarted', 'started api-1');
    now += 5_000;
    controller.record({ kind: 'Project', name: 'web' }, 'Warning', 'BackOff', 'the container exited with code 1');
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

  it('filters by kind, name and sequence, keeps only the newest, and tells subscribers', () => {
    const log = new EventLog({ capacity: 3 });
    const seen: LumaEvent[] = [];
    const stop = log.subscribe((event) => seen.push(event));
    for (let i = 0; i < 5; i++)
      log.record('sync', { kind: 'Lease', name: `l${i}` }, 'Normal', 'Applied', `applied l${i}`);
    stop();
    log.record('sync', { kind: 'Project', name: 'p' }, 'Normal', 'Applied', 'applied p');
    expect(seen).toHaveLength(5);
    expect(log.list().map((event) => event.object.name)).toEqual(['l3', 'l4', 'p']);
    expect(log.list({ kind: 'lease' }).map((event) => event.object.name)).toEqual(['l3', 'l4']);
    expect(log.list({ name: 'p' })).toHaveLength(1);
    expect(log.list({ afterSeq: 5 }).map((event) => event.object.name)).toEqual(['p']);
  });
});
