import { describe, expect, it } from 'vitest';
import { setReadiness, type Readiness } from '../../../src/controller/conditions.js';
import { ConditionEvents } from '../../../src/events/condition-events.js';
import { MemoryEventLog } from '../../../src/events/event-log.js';
import { API_VERSION, type ProjectObject } from '../../../src/model/types.js';

const T = new Date('2025-01-01T00:00:00.000Z');

function project(readiness: Readiness | undefined, uid = 'u1'): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web', uid },
    spec: { image: 'x', hostnames: ['web.localhost'] },
    ...(readiness ? { status: { conditions: setReadiness(undefined, readiness, T) } } : {}),
  };
}

function setup(): { log: MemoryEventLog; events: ConditionEvents; summary: () => string[] } {
  const log = new MemoryEventLog({ now: () => T.getTime() });
  const events = new ConditionEvents(log.recorder('controller'));
  return { log, events, summary: () => log.list().map((event) => `${event.type} ${event.reason} x${event.count}`) };
}

describe('ConditionEvents', () => {
  it('records each change of readiness once, Warning when stalled, and the deletion', () => {
    const { events, summary } = setup();
    events.observe({ type: 'ADDED', object: project(undefined) });
    events.observe({
      type: 'MODIFIED',
      object: project({ state: 'reconciling', reason: 'Starting', message: 'an instance is starting' }),
    });
    events.observe({
      type: 'MODIFIED',
      object: project({ state: 'ready', reason: 'Running', message: '1 instance(s) serving' }),
    });
    events.observe({
      type: 'MODIFIED',
      object: project({ state: 'ready', reason: 'Running', message: '1 instance(s) serving' }),
    });
    events.observe({
      type: 'MODIFIED',
      object: project({ state: 'stalled', reason: 'CrashLoopBackOff', message: 'exited 3 times' }),
    });
    events.observe({ type: 'DELETED', object: project(undefined) });
    expect(summary()).toEqual([
      'Normal Starting x1',
      'Normal Running x1',
      'Warning CrashLoopBackOff x1',
      'Normal Deleted x1',
    ]);
  });

  it('counts a readiness that comes back as a repeat', () => {
    const { events, summary } = setup();
    for (const state of ['ready', 'reconciling', 'ready'] as const)
      events.observe({
        type: 'MODIFIED',
        object: project({ state, reason: state === 'ready' ? 'Running' : 'Starting', message: '' }),
      });
    expect(summary()).toEqual(['Normal Starting x1', 'Normal Running x2']);
  });

  it('does not report what objects already were at start, but a new object of the same name is news', () => {
    const { events, summary } = setup();
    const running = project({ state: 'ready', reason: 'Running', message: '' });
    events.prime([running]);
    events.observe({ type: 'MODIFIED', object: running });
    expect(summary()).toEqual([]);
    events.observe({ type: 'ADDED', object: project({ state: 'ready', reason: 'Running', message: '' }, 'u2') });
    expect(summary()).toEqual(['Normal Running x1']);
  });
});
