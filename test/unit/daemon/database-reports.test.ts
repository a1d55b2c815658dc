import { describe, expect, it } from 'vitest';
import type { HealthReport } from '../../../src/api/api-options.js';
import { databaseReports } from '../../../src/daemon/database-reports.js';
import { MemoryEventLog } from '../../../src/events/event-log.js';
import { createLogger } from '../../../src/util/logger.js';

// The database's outages as a kubectl user reads them: /healthz degraded with a
// DatabaseReachable condition (status, reason, since when), an event when lost and when
// back, and everything reconciled once it answers again.

const OK: HealthReport = { status: 'ok', docker: { reachable: true } };
const LOST = { connected: false, since: '2026-12-07T10:00:00.000Z', error: 'connect ECONNREFUSED 127.0.0.1:5432' };
const FOUND = { connected: true, since: '2026-12-07T10:01:00.000Z' };

function setup(): { events: MemoryEventLog; resyncs: () => number; reports: ReturnType<typeof databaseReports> } {
  const events = new MemoryEventLog();
  let resyncs = 0;
  const controller = { requestResync: () => void (resyncs += 1) };
  const reports = databaseReports(
    () => events,
    () => controller,
    createLogger({ level: 'silent' }),
  );
  return { events, resyncs: () => resyncs, reports };
}

describe('database reports', () => {
  it('a lost database degrades /healthz with DatabaseReachable False, since when it was lost', () => {
    const report = setup().reports.decorate(OK, LOST);
    expect(report.status).toBe('degraded');
    expect(report.database).toEqual({ reachable: false, error: LOST.error });
    expect(report.conditions).toEqual([
      {
        type: 'DatabaseReachable',
        status: 'False',
        reason: 'Unreachable',
        message: expect.stringContaining(LOST.error),
        lastTransitionTime: LOST.since,
      },
    ]);
  });

  it('a database that answers keeps /healthz ok with DatabaseReachable True', () => {
    const report = setup().reports.decorate(OK, FOUND);
    expect(report.status).toBe('ok');
    expect(report.conditions).toMatchObject([{ type: 'DatabaseReachable', status: 'True', reason: 'Connected' }]);
  });

  it('without a database (the file store) adds nothing', () => {
    expect(setup().reports.decorate(OK, undefined)).toEqual(OK);
  });

  it('records an event when lost and when back, and reconciles everything once back', () => {
    const { events, resyncs, reports } = setup();
    reports.observe(LOST);
    expect(resyncs()).toBe(0);
    reports.observe(FOUND);
    expect(events.list().map((event) => [event.type, event.reason, event.object.kind])).toEqual([
      ['Warning', 'DatabaseUnreachable', 'Database'],
      ['Normal', 'DatabaseReconnected', 'Database'],
    ]);
    expect(resyncs()).toBe(1);
  });
});
