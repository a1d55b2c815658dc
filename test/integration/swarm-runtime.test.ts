import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OwnerRef } from '../../src/runtime/labels.js';
import type { ManagedContainer } from '../../src/runtime/runtime.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import { openRuntime, RuntimeChoiceError } from '../../src/runtime/select-runtime.js';
import { SwarmRuntime } from '../../src/runtime/swarm/swarm-runtime.js';
import { createLogger } from '../../src/util/logger.js';
import { buildTestImage, docker, TEST_IMAGE, testInstance } from '../support/docker.js';
import { eventually } from '../support/luma.js';
import { startTestSwarm, type TestSwarm } from '../support/swarm.js';

// The Swarm driver against a real one-node swarm (a private dockerd made a manager) and a
// real registry (docker-registry): services with Luma's labels, 0 replicas stopped and 1
// running, host-mode ports on the node's address, images pushed and pulled through the
// registry, claims by label, crashes, logs, limits and change events.

const SETUP_MS = 120_000;
const owner: OwnerRef = { kind: 'Project', name: 'rt', uid: '11111111-2222-3333-4444-555555555555' };

async function get(container: ManagedContainer, path = '/'): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${container.hostAddress}:${container.hostPort}${path}`, {
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: await response.text() };
}

/** The app's first request may race its listen by a few milliseconds: the controller probes; tests retry. */
function answers(container: ManagedContainer, path = '/'): Promise<{ status: number; body: string }> {
  return eventually(() => get(container, path).catch(() => undefined), 10_000, `an answer from ${container.name}`);
}

describe('SwarmRuntime', () => {
  const instance = testInstance('swarm');
  let swarm: TestSwarm;
  let runtime: SwarmRuntime;

  beforeAll(async () => {
    await buildTestImage();
    swarm = await startTestSwarm();
    runtime = new SwarmRuntime({ instance, docker: swarm.client, registry: swarm.registry, stopGraceSeconds: 2 });
  }, SETUP_MS);

  afterAll(async () => {
    await swarm?.remove();
  }, SETUP_MS);

  const spec = (extra: Partial<Parameters<SwarmRuntime['create']>[0]> = {}): Parameters<SwarmRuntime['create']>[0] => ({
    owner,
    specHash: 'abc123',
    image: TEST_IMAGE,
    port: 8080,
    env: { PORT: '8080', GREETING: 'hi' },
    ...extra,
  });

  it('creates a stopped, labelled service whose image comes from the registry, and runs it on the node address', async () => {
    const created = await runtime.create(spec({ cpuMillis: 500, memoryBytes: 64 * 1024 * 1024 }));
    expect(created.state).toBe('exited');
    expect(created.hostPort).toBeUndefined();
    expect(created.owner).toEqual(owner);
    expect(created.image).toBe(`${swarm.registry}/${TEST_IMAGE}`);

    const service = await swarm.client.getService(created.id).inspect();
    expect(service.Spec.Labels).toMatchObject({
      'luma.dev/managed': 'true',
      'luma.dev/instance': instance,
      'luma.dev/kind': 'Project',
      'luma.dev/name': 'rt',
      'luma.dev/spec-hash': 'abc123',
      'luma.dev/memory': String(64 * 1024 * 1024),
    });
    expect(service.Spec.TaskTemplate.Resources.Limits).toMatchObject({ NanoCPUs: 500_000_000, MemoryBytes: 67108864 });
    expect(service.Spec.Mode.Replicated.Replicas).toBe(0);

    const started = await runtime.start(created.id);
    expect(started.state).toBe('running');
    expect(started.hostAddress).toBe(swarm.nodeAddress);
    expect((await answers(started)).body).toBe('hello from the test app\n');
    expect((await answers(started, '/cgi-bin/env')).body).toContain('GREETING=hi');

    expect((await runtime.list({ kind: 'Project', name: 'rt' })).map((c) => c.id)).toContain(created.id);
    expect(await new SwarmRuntime({ instance: `${instance}-other`, docker: swarm.client }).list()).toEqual([]);

    await runtime.stop(created.id, 2);
    expect((await runtime.inspect(created.id))?.state).toBe('exited');
    const again = await runtime.start(created.id);
    expect(again.state).toBe('running');
    expect((await answers(again)).status).toBe(200);

    await runtime.remove(created.id);
    expect(await runtime.inspect(created.id)).toBeUndefined();
  });

  it('pauses by scaling to zero, lists the service paused, and resumes it with one call', async () => {
    const created = await runtime.create(spec());
    const started = await runtime.start(created.id);
    expect(await runtime.resume(created.id)).toBe(false);
    await runtime.pause(created.id);
    const paused = await runtime.inspect(created.id);
    expect(paused?.state).toBe('paused');
    expect(paused?.hostPort).toBeUndefined();
    expect(await runtime.resume(created.id)).toBe(true);
    const resumed = await runtime.inspect(created.id);
    expect(resumed?.state).toBe('running');
    expect((await answers(resumed!)).status).toBe(200);
    expect(started.id).toBe(resumed?.id);
    await runtime.remove(created.id);
  });

  it('reports a task that exits with its code, and starts it again with a fresh task', async () => {
    const created = await runtime.create(spec({ command: ['/bin/busybox', 'sh', '-c', 'echo bye; exit 3'] }));
    // start() may see the task running for the instant before it exits.
    await runtime.start(created.id);
    const ended = await eventually(async () => {
      const found = await runtime.inspect(created.id);
      return found?.state === 'exited' ? found : undefined;
    }, 10_000);
    expect(ended.exitCode).toBe(3);
    const lines = await eventually(async () => {
      const stream = await runtime.logs(created.id, { follow: false });
      const found: string[] = [];
      for await (const line of stream ?? []) found.push(line.line);
      return found.includes('bye') ? found : undefined;
    }, 10_000);
    expect(lines).toContain('bye');
    const first = ended;
    await runtime.start(created.id);
    const again = await eventually(async () => {
      const found = await runtime.inspect(created.id);
      return found?.state === 'exited' ? found : undefined;
    }, 10_000);
    expect(again.exitCode).toBe(3);
    const tasks = await swarm.client.listTasks({ filters: { service: [created.id] } });
    expect(tasks.length, 'a fresh task for the second start').toBeGreaterThan(1);
    expect(first.id).toBe(again.id);
    await runtime.remove(created.id);
  });

  it('names a lease service after its lease, so a second one for the same lease is refused', async () => {
    const lease: OwnerRef = { kind: 'Lease', name: 'job', uid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' };
    const first = await runtime.create(spec({ owner: lease, role: 'lease' }));
    expect(first.owner).toEqual(lease);
    expect(first.role).toBe('lease');
    await expect(runtime.create(spec({ owner: lease, role: 'lease' }))).rejects.toThrow();
    await runtime.remove(first.id);
  });

  it('claims a running pool service for a lease by its labels, without restarting its task', async () => {
    const pool = await runtime.start((await runtime.create(spec({ role: 'pool' }))).id);
    const lease: OwnerRef = { kind: 'Lease', name: 'claimer', uid: 'ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee' };
    const claimed = await runtime.claim(pool, lease);
    expect(claimed).toMatchObject({ owner: lease, role: 'lease', claimedFromPool: true });
    const listed = await runtime.list({ kind: 'Lease', name: 'claimer' });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: pool.id, owner: lease, claimedFromPool: true, state: 'running' });
    expect(listed[0]?.hostPort).toBe(pool.hostPort);
    expect(await runtime.list({ role: 'pool' })).toEqual([]);

    await runtime.updateLimits(pool.id, { cpuMillis: 250, memoryBytes: 96 * 1024 * 1024 });
    const task = (await swarm.client.listTasks({ filters: { service: [pool.id], 'desired-state': ['running'] } }))[0];
    const container = await swarm.client.getContainer(task.Status.ContainerStatus.ContainerID).inspect();
    expect(container.HostConfig.Memory).toBe(96 * 1024 * 1024);
    await runtime.remove(pool.id);
  });

  it('calls back with the owner when a service is scaled or removed, by Luma or by hand', async () => {
    const seen: string[] = [];
    const stop = runtime.watchChanges((changed, action) => seen.push(`${changed.name}:${action}`));
    try {
      const created = await runtime.create(spec({ owner: { ...owner, name: 'watched' } }));
      await runtime.start(created.id);
      await eventually(async () => seen.includes('watched:start'), 10_000, 'a container start event');
      await swarm.client.getService(created.id).remove();
      await eventually(async () => seen.includes('watched:remove'), 10_000, 'a service remove event');
    } finally {
      stop();
    }
  });

  describe('the choice of runtime (--runtime, LUMA_RUNTIME)', () => {
    function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
      const lines: string[] = [];
      const stream = { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream;
      return { logger: createLogger({ format: 'json', stream }), lines };
    }

    it('says so in the log when the engine is a swarm manager and no runtime was chosen', async () => {
      const { logger, lines } = capturingLogger();
      const chosen = await openRuntime({ instance, docker: swarm.client, stopGraceSeconds: 2, logger });
      expect(chosen).toBeInstanceOf(DockerRuntime);
      await eventually(async () => lines.some((line) => line.includes('--runtime swarm')), 2_000, 'the hint');
      const quiet = capturingLogger();
      await openRuntime({
        instance,
        docker: swarm.client,
        runtime: 'docker',
        stopGraceSeconds: 2,
        logger: quiet.logger,
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(quiet.lines.join('')).not.toContain('swarm manager');
    });

    it('opens the Swarm driver on a manager, and refuses an engine that is not one', async () => {
      const { logger } = capturingLogger();
      const options = { instance, runtime: 'swarm' as const, registry: swarm.registry, stopGraceSeconds: 2, logger };
      expect(await openRuntime({ ...options, docker: swarm.client })).toBeInstanceOf(SwarmRuntime);
      // The machine's shared engine is no swarm member.
      await expect(openRuntime({ ...options, docker })).rejects.toThrow(
        /not a swarm manager \(swarm state: inactive\)/,
      );
      await expect(openRuntime({ ...options, docker: swarm.client, registry: 'http://x/' })).rejects.toThrow(
        RuntimeChoiceError,
      );
    });
  });
});
