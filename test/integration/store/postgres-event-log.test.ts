import { describe, expect, it } from 'vitest';
import type { LumaEvent } from '../../../src/events/event-log.js';
import { PostgresEventLog } from '../../../src/events/postgres-event-log.js';
import { postgresPerTest } from '../../support/postgres.js';
import { until } from '../../support/until.js';
import { eventLogCases } from '../../unit/events/event-log.cases.js';

// The event-log suite every EventLog passes, against a real PostgreSQL, then what only a
// shared log does: several controllers' logs on one database show the same events under
// the same numbers, a controller started later shows the past ones, and an event recorded
// while the database is away is shown at once and stored once it is back.

const db = postgresPerTest((url) => PostgresEventLog.open(url));

eventLogCases('PostgresEventLog', { open: (options) => PostgresEventLog.open(db.url(), options) });

const summary = (events: LumaEvent[]): string[] =>
  events.map((event) => `${event.seq} ${event.object.name} ${event.reason} x${event.count}`);

describe('PostgresEventLog shared by several controllers', () => {
  it('shows every controller the same events, numbered once by the database', async () => {
    const [a, b, c] = [await db.open(), await db.open(), await db.open()];
    const toldB: string[] = [];
    b.subscribe((event) => toldB.push(`${event.seq} ${event.reason}`));
    a.record('controller', { kind: 'Project', name: 'web' }, 'Normal', 'ContainerStarted', 'started web-1');
    b.record('api', { kind: 'Project', name: 'api' }, 'Normal', 'Applied', 'applied');
    a.record('controller', { kind: 'Project', name: 'web' }, 'Normal', 'ContainerStarted', 'started web-1');
    await Promise.all([a.settled(), b.settled()]);
    await until(() => [a, b, c].every((log) => log.list().length === 2 && log.list()[1]?.count === 2), 10_000);
    const expected = summary(a.list());
    // Whichever was stored first, web's repeat was stored last, under seq 3.
    expect(expected).toContain('3 web ContainerStarted x2');
    expect(expected.join()).toMatch(/^[12] api Applied x1,3 web/);
    expect(summary(b.list())).toEqual(expected);
    expect(summary(c.list())).toEqual(expected);
    // b was told each version it came across once; web's first may have been replaced before b read it.
    expect(toldB).toContain('3 ContainerStarted');
    expect(toldB.filter((line) => line.endsWith('Applied'))).toHaveLength(1);
    expect(new Set(toldB).size).toBe(toldB.length);
  });

  it('a controller started later shows the events recorded before it', async () => {
    const a = await db.open();
    a.record('sync', { kind: 'Sync', name: 'manifests' }, 'Warning', 'InvalidManifest', 'a.yaml:1:1: bad');
    await a.settled();
    const late = await db.open();
    expect(summary(late.list())).toEqual(['1 manifests InvalidManifest x1']);
  });

  it('shows an event recorded while the database is away at once, and stores it once it is back', async () => {
    const a = await db.open();
    const b = await db.open();
    a.record('controller', { kind: 'Project', name: 'web' }, 'Normal', 'ContainerStarted', 'before');
    await a.settled();
    await db.instance().stop();
    try {
      a.record('controller', { kind: 'Database', name: 'store' }, 'Warning', 'DatabaseUnreachable', 'away');
      await a.settled();
      expect(a.list().map((event) => event.reason)).toEqual(['ContainerStarted', 'DatabaseUnreachable']);
    } finally {
      await db.instance().start();
    }
    await until(() => b.list().some((event) => event.reason === 'DatabaseUnreachable'), 15_000);
    const stored = b.list().find((event) => event.reason === 'DatabaseUnreachable');
    expect(stored?.seq).toBeGreaterThan(2);
    await until(() => a.list().find((event) => event.reason === 'DatabaseUnreachable')?.seq === stored?.seq, 10_000);
    expect(a.list().filter((event) => event.reason === 'DatabaseUnreachable')).toHaveLength(1);
  });
});
