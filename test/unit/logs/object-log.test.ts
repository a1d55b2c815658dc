import { describe, expect, it } from 'vitest';
import {
  followObjectLog,
  instanceName,
  type LogEnd,
  type LogRecord,
  type ObjectLogOptions,
} from '../../../src/logs/object-log.js';
import type { OwnerRef } from '../../../src/runtime/labels.js';
import type { ContainerState } from '../../../src/runtime/runtime.js';
import { FakeClock, settle } from '../../support/fakes/fake-clock.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';

// Which containers a project's or lease's log reads, and how following behaves as
// instances come and go. Time (the poll for new instances) comes from a fake clock.

const web: OwnerRef = { kind: 'Project', name: 'web', uid: 'uid-web' };
const sandbox: OwnerRef = { kind: 'Lease', name: 'sandbox', uid: 'uid-sandbox' };
const POLL_MS = 1_000;

function seed(runtime: FakeRuntime, owner: OwnerRef, suffix: string, state: ContainerState, createdAt = 0) {
  const container = runtime.seed({
    owner,
    specHash: 'h',
    state,
    name: `luma-test-${owner.name}-${suffix}`,
    id: `id-${suffix}`,
  });
  runtime.containers.get(container.id)!.createdAt = new Date(createdAt);
  return container;
}

function reader(
  runtime: FakeRuntime,
  target: { kind: 'Project' | 'Lease'; name: string },
  options: Partial<ObjectLogOptions> = {},
) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1) - 60_000);
  const records: LogRecord[] = [];
  const waiting: string[] = [];
  let end: LogEnd | undefined;
  const follow = followObjectLog(
    runtime,
    target,
    { follow: true, clock, pollIntervalMs: POLL_MS, onWaiting: (message) => waiting.push(message), ...options },
    (record) => records.push(record),
  );
  void follow.done.then(
    (value) => (end = value),
    () => undefined,
  );
  return {
    clock,
    records,
    waiting,
    follow,
    lines: () => records.map((record) => `${record.instance} ${record.line}`),
    end: () => end,
  };
}

describe('instanceName', () => {
  it("is the owner's name and the container name's random suffix, or the id's start", () => {
    const runtime = new FakeRuntime();
    expect(instanceName(seed(runtime, web, 'a1b2c3', 'running'))).toBe('web-a1b2c3');
    expect(
      instanceName(
        runtime.seed({ owner: web, specHash: 'h', state: 'running', name: 'hand-made', id: '0123456789abcdef' }),
      ),
    ).toBe('0123456789ab');
  });
});

describe('reading a log (no follow)', () => {
  it("merges every running instance's lines in time order, each with its instance", async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'running');
    seed(runtime, web, 'bbbbbb', 'running');
    seed(runtime, { ...web, name: 'other' }, 'cccccc', 'running');
    runtime.writeLog('id-aaaaaa', 'a1', { time: '2026-01-01T00:00:01Z' });
    runtime.writeLog('id-bbbbbb', 'b1', { time: '2026-01-01T00:00:02Z', stream: 'stderr' });
    runtime.writeLog('id-aaaaaa', 'a2', { time: '2026-01-01T00:00:03Z' });
    runtime.writeLog('id-cccccc', 'not this project', { time: '2026-01-01T00:00:02Z' });
    const log = reader(runtime, { kind: 'Project', name: 'web' }, { follow: false });
    expect(await log.follow.done).toEqual({ reason: 'complete', message: 'end of the log' });
    expect(log.lines()).toEqual(['web-aaaaaa a1', 'web-bbbbbb b1', 'web-aaaaaa a2']);
    expect(log.records[1]).toMatchObject({ stream: 'stderr', time: '2026-01-01T00:00:02Z' });
    expect(runtime.openLogStreams()).toBe(0);
  });

  it('says so when there is nothing to show: no containers, or nothing written', async () => {
    const runtime = new FakeRuntime();
    const none = reader(runtime, { kind: 'Project', name: 'web' }, { follow: false });
    expect(await none.follow.done).toEqual({
      reason: 'complete',
      message: 'project/web has no containers: nothing to show',
    });
    seed(runtime, web, 'aaaaaa', 'running');
    const silent = reader(runtime, { kind: 'Project', name: 'web' }, { follow: false, tail: 5 });
    expect(await silent.follow.done).toEqual({
      reason: 'complete',
      message: 'project/web: nothing written in the lines asked for',
    });
  });

  it('shows what the last instance wrote when nothing runs, with tail and since passed to the engine', async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'a0a0a0', 'exited', 1_000);
    seed(runtime, web, 'b1b1b1', 'exited', 2_000);
    for (const line of ['n1', 'n2', 'n3']) runtime.writeLog('id-b1b1b1', line);
    runtime.writeLog('id-a0a0a0', 'from the older one');
    const log = reader(
      runtime,
      { kind: 'Project', name: 'web' },
      { follow: false, tail: 2, since: '2025-12-31T00:00:00Z' },
    );
    await log.follow.done;
    expect(log.lines()).toEqual(['web-b1b1b1 n2', 'web-b1b1b1 n3']);
    expect(runtime.logRequests).toEqual([{ id: 'id-b1b1b1', follow: false, tail: 2, since: '2025-12-31T00:00:00Z' }]);
  });

  it('ends at once, with nothing, when the object has no container at all', async () => {
    const log = reader(new FakeRuntime(), { kind: 'Lease', name: 'sandbox' }, { follow: false });
    expect((await log.follow.done).reason).toBe('complete');
    expect(log.records).toEqual([]);
  });

  it('fails to start, before reading anything, when the instances cannot be listed', async () => {
    const runtime = new FakeRuntime();
    runtime.list = async () => {
      throw new Error('cannot reach the Docker engine');
    };
    const log = reader(runtime, { kind: 'Project', name: 'web' });
    await expect(log.follow.started).rejects.toThrow('cannot reach the Docker engine');
    await expect(log.follow.done).rejects.toThrow('cannot reach the Docker engine');
  });
});

describe('following a project', () => {
  it('streams new lines of every running instance as they are written', async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'running');
    seed(runtime, web, 'bbbbbb', 'paused');
    runtime.writeLog('id-aaaaaa', 'earlier');
    const log = reader(runtime, { kind: 'Project', name: 'web' }, { tail: 1 });
    await log.follow.started;
    await settle();
    expect(log.lines()).toEqual(['web-aaaaaa earlier']);
    runtime.writeLog('id-bbbbbb', 'from b');
    runtime.writeLog('id-aaaaaa', 'from a');
    await settle();
    expect(log.lines()).toEqual(['web-aaaaaa earlier', 'web-bbbbbb from b', 'web-aaaaaa from a']);
    expect(runtime.logRequests.map((request) => [request.id, request.follow, request.tail])).toEqual([
      ['id-aaaaaa', true, 1],
      ['id-bbbbbb', true, 1],
    ]);
    expect(log.waiting).toEqual([]);
    expect(log.end()).toBeUndefined();
  });

  it('picks up an instance that starts while following, from its first line, at the next poll', async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'running');
    const log = reader(runtime, { kind: 'Project', name: 'web' });
    await log.follow.started;
    await settle();
    const late = seed(runtime, web, 'bbbbbb', 'running');
    runtime.writeLog(late.id, 'booting');
    await settle();
    expect(log.lines()).toEqual([]);
    await log.clock.advance(POLL_MS);
    expect(log.lines()).toEqual(['web-bbbbbb booting']);
    runtime.writeLog(late.id, 'serving');
    await settle();
    expect(log.lines()).toEqual(['web-bbbbbb booting', 'web-bbbbbb serving']);
  });

  it("an instance that goes away ends quietly; the others' lines keep coming", async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'running');
    seed(runtime, web, 'bbbbbb', 'running');
    const log = reader(runtime, { kind: 'Project', name: 'web' });
    await log.follow.started;
    await settle();
    await runtime.remove('id-aaaaaa');
    await settle();
    runtime.writeLog('id-bbbbbb', 'still here');
    await log.clock.advance(POLL_MS * 3);
    expect(log.lines()).toEqual(['web-bbbbbb still here']);
    expect(log.end()).toBeUndefined();
    expect(runtime.openLogStreams()).toBe(1);
  });

  it("shows the last instance's tail when nothing runs, says it waits, and follows the instance that starts", async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'exited');
    runtime.writeLog('id-aaaaaa', 'last words');
    const log = reader(runtime, { kind: 'Project', name: 'web' });
    await log.follow.started;
    await settle();
    expect(log.lines()).toEqual(['web-aaaaaa last words']);
    expect(log.waiting).toEqual(['project/web has no running instance; waiting for one to start']);
    // Scaled from zero: the same stopped container starts again and writes.
    await runtime.start('id-aaaaaa');
    runtime.writeLog('id-aaaaaa', 'woke up');
    await log.clock.advance(POLL_MS);
    expect(log.lines()).toEqual(['web-aaaaaa last words', 'web-aaaaaa woke up']);
  });

  it('resumes a restarted instance after the last line it showed, without repeating any', async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'running');
    const log = reader(runtime, { kind: 'Project', name: 'web' });
    await log.follow.started;
    runtime.writeLog('id-aaaaaa', 'before stop');
    await settle();
    await runtime.stop('id-aaaaaa', 1);
    await log.clock.advance(POLL_MS);
    expect(log.waiting).toEqual(['project/web has no running instance; waiting for one to start']);
    await runtime.start('id-aaaaaa');
    runtime.writeLog('id-aaaaaa', 'after start');
    await log.clock.advance(POLL_MS);
    expect(log.lines()).toEqual(['web-aaaaaa before stop', 'web-aaaaaa after start']);
    expect(runtime.logRequests.at(-1)).toMatchObject({ id: 'id-aaaaaa', follow: true, since: log.records[0]!.time });
  });

  it('does not show old output of a stopped instance that starts again: only what it writes from then on', async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'running');
    seed(runtime, web, 'bbbbbb', 'exited');
    runtime.writeLog('id-bbbbbb', 'from a run long ago', { time: '2025-06-01T00:00:00Z' });
    const log = reader(runtime, { kind: 'Project', name: 'web' });
    await log.follow.started;
    await runtime.start('id-bbbbbb');
    runtime.writeLog('id-bbbbbb', 'new run');
    await log.clock.advance(POLL_MS);
    expect(log.lines()).toEqual(['web-bbbbbb new run']);
  });

  it('does not spin on an instance Docker still calls running just after its stream ended', async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'running');
    const log = reader(runtime, { kind: 'Project', name: 'web' });
    await log.follow.started;
    await settle();
    await runtime.stop('id-aaaaaa', 1);
    runtime.containers.get('id-aaaaaa')!.state = 'running';
    await settle();
    expect(runtime.logRequests).toHaveLength(1);
    await log.clock.advance(500);
    expect(runtime.logRequests).toHaveLength(2);
    expect(log.waiting).toEqual([]);
  });

  it('close() stops following and releases every engine stream and timer', async () => {
    const runtime = new FakeRuntime();
    seed(runtime, web, 'aaaaaa', 'running');
    seed(runtime, web, 'bbbbbb', 'running');
    const log = reader(runtime, { kind: 'Project', name: 'web' });
    await log.follow.started;
    await settle();
    expect(runtime.openLogStreams()).toBe(2);
    log.follow.close();
    expect(await log.follow.done).toEqual({ reason: 'closed', message: 'closed by the reader' });
    expect(runtime.openLogStreams()).toBe(0);
    expect(log.clock.pendingTimers()).toBe(0);
    runtime.writeLog('id-aaaaaa', 'after close');
    await settle();
    expect(log.records).toEqual([]);
  });
});

describe('following a lease', () => {
  it('waits for the container of a pending lease, then follows it', async () => {
    const runtime = new FakeRuntime();
    const log = reader(runtime, { kind: 'Lease', name: 'sandbox' });
    await log.follow.started;
    expect(log.waiting).toEqual(['lease/sandbox has no running container; waiting for one to start']);
    seed(runtime, sandbox, 'dddddd', 'running');
    runtime.writeLog('id-dddddd', 'hello from the lease');
    await log.clock.advance(POLL_MS);
    expect(log.lines()).toEqual(['sandbox-dddddd hello from the lease']);
    expect(log.end()).toBeUndefined();
  });

  it('ends with container-gone when its container goes away', async () => {
    const runtime = new FakeRuntime();
    seed(runtime, sandbox, 'dddddd', 'running');
    const log = reader(runtime, { kind: 'Lease', name: 'sandbox' });
    await log.follow.started;
    await settle();
    runtime.writeLog('id-dddddd', 'last line');
    await settle();
    await runtime.remove('id-dddddd');
    await settle();
    expect(await log.follow.done).toEqual({
      reason: 'container-gone',
      message: 'the container of lease/sandbox is gone',
    });
    expect(log.lines()).toEqual(['sandbox-dddddd last line']);
    expect(log.clock.pendingTimers()).toBe(0);
  });
});
