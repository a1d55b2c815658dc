import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OwnerRef } from '../../src/runtime/labels.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import { ICC_OPTION, networkName } from '../../src/runtime/docker-network.js';
import {
  buildTestImage,
  docker,
  networksOf,
  removeInstanceContainers,
  TEST_IMAGE,
  testInstance,
} from '../support/docker.js';
import { eventually, request } from '../support/luma.js';

// The Docker driver against the real engine: labels, loopback-only ports, PORT, limits,
// finding containers again by their labels, and the change events that heal drift.

describe('DockerRuntime', () => {
  const instance = testInstance('runtime');
  const runtime = new DockerRuntime({ instance });
  const owner: OwnerRef = { kind: 'Project', name: 'rt', uid: '11111111-2222-3333-4444-555555555555' };

  beforeAll(async () => {
    await buildTestImage();
  });

  afterAll(async () => {
    await removeInstanceContainers(instance);
  });

  it('creates a labelled, limited container published on 127.0.0.1 only, and finds it again', async () => {
    const created = await runtime.create({
      owner,
      specHash: 'abc123',
      image: TEST_IMAGE,
      port: 8080,
      env: { PORT: '8080', GREETING: 'hi' },
      cpuMillis: 500,
      memoryBytes: 64 * 1024 * 1024,
    });
    expect(created.state).toBe('created');
    expect(created.owner).toEqual(owner);
    expect(created.specHash).toBe('abc123');

    const started = await runtime.start(created.id);
    expect(started.state).toBe('running');
    expect(started.hostPort).toBeGreaterThan(0);

    const info = await docker.getContainer(created.id).inspect();
    expect(info.Config.Labels).toMatchObject({
      'luma.dev/managed': 'true',
      'luma.dev/instance': instance,
      'luma.dev/kind': 'Project',
      'luma.dev/name': 'rt',
      'luma.dev/uid': owner.uid,
      'luma.dev/spec-hash': 'abc123',
    });
    expect(info.Config.Env).toEqual(expect.arrayContaining(['PORT=8080', 'GREETING=hi']));
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.Init).toBe(true);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges');
    const bindings = info.NetworkSettings.Ports['8080/tcp'] ?? [];
    expect(bindings.length).toBeGreaterThan(0);
    for (const binding of bindings) expect(binding.HostIp).toBe('127.0.0.1');

    const answer = await eventually(
      async () => {
        const reply = await request(started.hostPort!, 'whatever');
        return reply.status === 200 && reply;
      },
      10_000,
      'the app answering on its published port',
    );
    expect(answer.body).toBe('hello from the test app\n');

    // A new driver (as after a controller restart) finds it by its labels.
    const again = await new DockerRuntime({ instance }).list({ kind: 'Project', name: 'rt' });
    expect(again.map((container) => [container.id, container.state, container.hostPort])).toEqual([
      [created.id, 'running', started.hostPort],
    ]);
    // Another installation does not see it.
    expect(await new DockerRuntime({ instance: `${instance}-other` }).list()).toEqual([]);

    await runtime.stop(created.id, 2);
    expect((await runtime.inspect(created.id))?.state).toBe('exited');
    await runtime.remove(created.id);
    expect(await runtime.inspect(created.id)).toBeUndefined();
    // Removing twice is not an error: reconciles may race a removal by hand.
    await runtime.remove(created.id);
  });

  it('runs `command` in place of the image entrypoint', async () => {
    const created = await runtime.create({
      owner,
      specHash: 'cmd',
      image: TEST_IMAGE,
      port: 8080,
      env: {},
      command: ['/bin/busybox', 'sleep', '30'],
    });
    const info = await docker.getContainer(created.id).inspect();
    expect(info.Config.Entrypoint).toEqual(['/bin/busybox', 'sleep', '30']);
    await runtime.remove(created.id);
  });

  it('resume() thaws only a paused container, and says false for a running, stopped or removed one', async () => {
    const created = await runtime.create({
      owner: { ...owner, name: 'thaw' },
      specHash: 'th',
      image: TEST_IMAGE,
      port: 8080,
      env: {},
    });
    const started = await runtime.start(created.id);
    await runtime.pause(created.id);
    expect((await runtime.inspect(created.id))?.state).toBe('paused');

    expect(await runtime.resume(created.id)).toBe(true);
    const thawed = await runtime.inspect(created.id);
    expect([thawed?.state, thawed?.hostPort]).toEqual(['running', started.hostPort]);
    expect(await runtime.resume(created.id)).toBe(false); // running: nothing to thaw

    await runtime.stop(created.id, 2);
    expect(await runtime.resume(created.id)).toBe(false); // stopped: its port is gone
    expect((await runtime.inspect(created.id))?.state).toBe('exited');

    await runtime.remove(created.id);
    expect(await runtime.resume(created.id)).toBe(false); // removed
  });

  it('reports whether an image is present', async () => {
    expect(await runtime.imageExists(TEST_IMAGE)).toBe(true);
    expect(await runtime.imageExists('luma-test/does-not-exist:never')).toBe(false);
  });

  it('streams change events of its own containers', async () => {
    const seen: string[] = [];
    const stop = runtime.watchChanges((changed, action) => {
      if (changed.name === 'events') seen.push(action);
    });
    try {
      // Give the event stream a moment to connect before acting.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const created = await runtime.create({
        owner: { ...owner, name: 'events' },
        specHash: 'ev',
        image: TEST_IMAGE,
        port: 8080,
        env: {},
      });
      await runtime.start(created.id);
      await runtime.remove(created.id);
      await eventually(
        async () => seen.includes('start') && seen.includes('destroy'),
        10_000,
        'start and destroy events',
      );
    } finally {
      stop();
    }
  });

  it("a claimed pool container becomes the lease's (by its name), takes new limits in place, and a second claim for the lease is refused", async () => {
    const pooled = await runtime.create({
      owner: { ...owner, name: 'pooled' },
      role: 'pool',
      specHash: 'pl',
      image: TEST_IMAGE,
      port: 8080,
      env: {},
      cpuMillis: 250,
      memoryBytes: 64 * 1024 * 1024,
    });
    const running = await runtime.start(pooled.id);
    expect(
      (await runtime.list({ kind: 'Project', name: 'pooled', role: 'pool' })).map((container) => container.id),
    ).toEqual([pooled.id]);

    const lease: OwnerRef = { kind: 'Lease', name: 'l1', uid: '99999999-8888-7777-6666-555555555555' };
    await runtime.updateLimits(pooled.id, { cpuMillis: 1000, memoryBytes: 128 * 1024 * 1024 });
    const claimed = await runtime.claim(running, lease);
    expect(claimed.hostPort).toBe(running.hostPort);
    expect(await runtime.inspect(pooled.id)).toMatchObject({
      owner: lease,
      role: 'lease',
      claimedFromPool: true,
      name: claimed.name,
    });
    expect(claimed.owner).toEqual(lease);
    expect(claimed.role).toBe('lease');
    expect(claimed.claimedFromPool).toBe(true);
    expect(claimed.state).toBe('running');
    expect(await runtime.list({ kind: 'Project', name: 'pooled' })).toEqual([]);
    expect((await runtime.list({ kind: 'Lease', name: 'l1' })).map((container) => container.id)).toEqual([pooled.id]);

    const info = await docker.getContainer(pooled.id).inspect();
    expect(info.HostConfig.NanoCpus).toBe(1_000_000_000);
    expect(info.HostConfig.Memory).toBe(128 * 1024 * 1024);

    // Docker's unique names: no second container can be the same lease's.
    const other = await runtime.create({
      owner: { ...owner, name: 'pooled' },
      role: 'pool',
      specHash: 'pl',
      image: TEST_IMAGE,
      port: 8080,
      env: {},
    });
    await expect(runtime.claim(other, lease)).rejects.toThrow();
    await expect(
      runtime.create({ owner: lease, role: 'lease', specHash: 'pl', image: TEST_IMAGE, port: 8080, env: {} }),
    ).rejects.toThrow();
    await runtime.remove(other.id);
    await runtime.remove(pooled.id);
  });

  it('turns an unreachable engine into one actionable error', async () => {
    const previous = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      const { default: Docker } = await import('dockerode');
      const offline = new DockerRuntime({ instance, docker: new Docker({ socketPath: '/nonexistent/docker.sock' }) });
      await expect(offline.ping()).rejects.toThrow(
        /cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock .*start it/,
      );
      await expect(offline.list()).rejects.toThrow(/cannot reach the Docker engine/);
    } finally {
      if (previous === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = previous;
    }
  });
});

describe('DockerRuntime network isolation', () => {
  const instance = testInstance('net');
  const owner: OwnerRef = { kind: 'Project', name: 'iso', uid: '66666666-2222-3333-4444-555555555555' };

  beforeAll(async () => {
    await buildTestImage();
  });

  afterAll(async () => {
    await removeInstanceContainers(instance);
  });

  it('puts containers on one isolated network per installation, made once for many creates at once, and again after it was removed', async () => {
    const runtime = new DockerRuntime({ instance });
    const created = await Promise.all(
      [0, 1, 2].map((index) =>
        runtime.create({
          owner: { ...owner, name: `iso${index}` },
          specHash: 'n',
          image: TEST_IMAGE,
          port: 8080,
          env: {},
        }),
      ),
    );
    const networks = await networksOf(instance);
    expect(networks.map((network) => network.Name)).toEqual([networkName(instance)]);
    expect(networks[0]?.Options?.[ICC_OPTION]).toBe('false');
    expect(networks[0]?.Labels).toMatchObject({ 'luma.dev/managed': 'true', 'luma.dev/instance': instance });
    for (const container of created) {
      await runtime.start(container.id);
      const info = await docker.getContainer(container.id).inspect();
      expect(Object.keys(info.NetworkSettings.Networks)).toEqual([networkName(instance)]);
    }

    // Removed behind the runtime's back (a test's cleanup, an operator): the next create makes it again.
    await removeInstanceContainers(instance);
    expect(await networksOf(instance)).toEqual([]);
    const again = await runtime.create({ owner, specHash: 'n', image: TEST_IMAGE, port: 8080, env: {} });
    await runtime.start(again.id);
    expect(Object.keys((await docker.getContainer(again.id).inspect()).NetworkSettings.Networks)).toEqual([
      networkName(instance),
    ]);
    expect(await networksOf(instance)).toHaveLength(1);
  });

  it('lets two processes of one installation racing to make the network both start containers on an isolated one', async () => {
    const other = testInstance('net-race');
    try {
      const racers = [new DockerRuntime({ instance: other }), new DockerRuntime({ instance: other })];
      const created = await Promise.all(
        racers.map((racer, index) =>
          racer.create({
            owner: { ...owner, name: `race${index}` },
            specHash: 'n',
            image: TEST_IMAGE,
            port: 8080,
            env: {},
          }),
        ),
      );
      await Promise.all(created.map((container, index) => racers[index]!.start(container.id)));
      const networks = await networksOf(other);
      expect(networks.length).toBeGreaterThanOrEqual(1);
      for (const network of networks)
        expect([network.Name, network.Options?.[ICC_OPTION]]).toEqual([networkName(other), 'false']);
    } finally {
      await removeInstanceContainers(other);
    }
  });

  it('refuses a network of its name that lets containers talk to each other', async () => {
    const other = testInstance('net-open');
    await docker.createNetwork({ Name: networkName(other), Labels: { 'luma.dev/instance': other } });
    try {
      const runtime = new DockerRuntime({ instance: other });
      await expect(runtime.create({ owner, specHash: 'n', image: TEST_IMAGE, port: 8080, env: {} })).rejects.toThrow(
        /allows traffic between containers .*docker network rm/,
      );
    } finally {
      await removeInstanceContainers(other);
    }
  });
});
