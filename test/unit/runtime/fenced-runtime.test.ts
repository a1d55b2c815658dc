import { beforeEach, describe, expect, it } from 'vitest';
import { FencedRuntime } from '../../../src/runtime/fenced-runtime.js';
import type { EngineRuntime } from '../../../src/runtime/select-runtime.js';
import { FencedError } from '../../../src/store/postgres/leader-election.js';
import { FakeImageRuntime } from '../../support/fakes/fake-image-runtime.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';

// A controller that lost the leadership makes no Docker call that changes anything: the
// fence is asked at each call, so a call made after the loss (a paused leader resuming
// mid-reconcile) is refused even though the runtime was wrapped while it led.

function engineOf(containers: FakeRuntime, images: FakeImageRuntime): EngineRuntime {
  return {
    endpoint: 'unix:///fake/docker.sock',
    ping: () => containers.ping(),
    list: (filter) => containers.list(filter),
    imageExists: (ref) => containers.imageExists(ref),
    create: (spec) => containers.create(spec),
    start: (id) => containers.start(id),
    stop: (id, timeout) => containers.stop(id, timeout),
    pause: (id) => containers.pause(id),
    unpause: (id) => containers.unpause(id),
    resume: (id) => containers.resume(id),
    remove: (id) => containers.remove(id),
    claim: (container, lease) => containers.claim(container, lease),
    updateLimits: (id, limits) => containers.updateLimits(id, limits),
    inspect: (id) => containers.inspect(id),
    logs: (id, options) => containers.logs(id, options),
    watchChanges: (onChange) => containers.watchChanges(onChange),
    build: (request, onOutput, signal) => images.build(request, onOutput, signal),
    pull: (ref, onOutput) => images.pull(ref, onOutput),
    listBuilt: (name) => images.listBuilt(name),
    removeImage: (ref) => images.removeImage(ref),
  };
}

const SPEC = {
  owner: { kind: 'Project' as const, name: 'web', uid: 'u1' },
  specHash: 'h1',
  image: 'hello',
  port: 8080,
  env: {},
};

describe('FencedRuntime', () => {
  let containers: FakeRuntime;
  let images: FakeImageRuntime;
  let leading: boolean;
  let runtime: FencedRuntime;

  beforeEach(() => {
    containers = new FakeRuntime({ images: ['hello'] });
    images = new FakeImageRuntime();
    leading = true;
    runtime = new FencedRuntime(engineOf(containers, images), () => {
      if (!leading) throw new FencedError(7);
    });
  });

  it('passes every call through while the fence holds', async () => {
    const created = await runtime.create(SPEC);
    await runtime.start(created.id);
    await runtime.stop(created.id, 1);
    await runtime.remove(created.id);
    expect(containers.mutations().map((call) => call.op)).toEqual(['create', 'start', 'stop', 'remove']);
    expect(runtime.endpoint).toBe('unix:///fake/docker.sock');
  });

  it('refuses create, start, stop, pause, remove, claim, limits and image changes once leadership is lost', async () => {
    const running = containers.seed({ owner: SPEC.owner, specHash: 'h1', state: 'running' });
    const pooled = containers.seed({ owner: SPEC.owner, role: 'pool', specHash: 'h1', state: 'running' });
    leading = false;
    const attempts: Array<() => Promise<unknown>> = [
      () => runtime.create(SPEC),
      () => runtime.start(running.id),
      () => runtime.stop(running.id, 1),
      () => runtime.pause(running.id),
      () => runtime.unpause(running.id),
      () => runtime.resume(running.id),
      () => runtime.remove(running.id),
      () => runtime.claim(pooled, { kind: 'Lease', name: 'l1', uid: 'u2' }),
      () => runtime.updateLimits(running.id, { cpuMillis: 500, memoryBytes: 2 ** 28 }),
      () => runtime.pull('hello', () => undefined),
      () => runtime.removeImage('hello'),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(FencedError);
    expect(containers.mutations()).toEqual([]);
    expect(images.log).toEqual([]);
    expect([...containers.containers.values()].map((container) => container.state)).toEqual(['running', 'running']);
  });

  it('still answers reads after the loss: a standby lists and inspects for its API', async () => {
    const running = containers.seed({ owner: SPEC.owner, specHash: 'h1', state: 'running' });
    leading = false;
    expect((await runtime.list()).map((container) => container.id)).toEqual([running.id]);
    expect((await runtime.inspect(running.id))?.state).toBe('running');
    expect(await runtime.imageExists('hello')).toBe(true);
  });

  it('asks the fence at each call, not once when wrapped', async () => {
    const created = await runtime.create(SPEC);
    leading = false;
    await expect(runtime.start(created.id)).rejects.toBeInstanceOf(FencedError);
    leading = true;
    await runtime.start(created.id);
    expect(containers.mutations().map((call) => call.op)).toEqual(['create', 'start']);
  });
});
