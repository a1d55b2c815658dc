import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { containersOf, docker, runningContainersOf, TEST_IMAGE } from '../support/docker.js';
import {
  ECHO_SERVER_COMMAND,
  eventually,
  projectManifest,
  request,
  runCli,
  type ProjectManifestSpec,
} from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// Activity that sees connections, the idle fence, concurrency scaling and the paused tier,
// through a real `luma up` and real containers.

describe('idle tiers and scaling', () => {
  const up = lumaUpFor('tiers', { resyncInterval: '1s', stopTimeout: '2s' });
  const instance = up.instance;

  async function apply(name: string, spec: Omit<ProjectManifestSpec, 'image' | 'hostnames'>): Promise<void> {
    const file = path.join(up.dir, `${name}.yaml`);
    await writeFile(file, projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`], ...spec }));
    const result = await runCli(['apply', '-f', file], { api: up.luma.api });
    expect(result.code, result.stderr).toBe(0);
  }

  /** Opens an upgraded connection through the proxy and checks that bytes echo. */
  async function openUpgrade(host: string): Promise<net.Socket> {
    const socket = net.connect(up.luma.proxyPort, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.write(`GET /socket HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    let received = '';
    socket.setEncoding('utf8');
    const onData = (chunk: string): void => {
      received += chunk;
    };
    socket.on('data', onData);
    await eventually(async () => received.includes('101 Switching Protocols'), 15_000, 'the upgrade answer');
    socket.write('ping\n');
    await eventually(async () => received.includes('ping\n'), 5_000, 'the echo');
    socket.off('data', onData);
    return socket;
  }

  it('keeps a container running while a WebSocket is open past idleTimeout, and stops it idleTimeout after it closes', async () => {
    await apply('socket', { idleTimeout: '1s', command: ECHO_SERVER_COMMAND });
    const socket = await openUpgrade('socket.localhost');
    // Three idle timeouts with no new request: the open connection keeps it awake.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await runningContainersOf(instance, 'socket')).toHaveLength(1);
    // Still echoing.
    const echoed = new Promise<string>((resolve) => socket.once('data', (chunk: string) => resolve(chunk)));
    socket.write('still here\n');
    expect(await echoed).toBe('still here\n');

    const closedAt = Date.now();
    socket.end();
    await eventually(
      async () => (await runningContainersOf(instance, 'socket')).length === 0,
      10_000,
      'the idle stop after close',
    );
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(900);
  });

  it('answers requests fired again and again at the idle boundary without a single error', async () => {
    await apply('boundary', { idleTimeout: '1s' });
    const statuses: number[] = [];
    // Gaps straddle the 1 s idle timeout, so requests arrive just before, during and just after idle stops.
    const gaps = [900, 950, 1000, 1050, 1100, 1150, 1200, 980, 1020, 1080, 940, 1010];
    for (const gap of gaps) {
      const burst = await Promise.all([
        request(up.luma.proxyPort, 'boundary.localhost'),
        request(up.luma.proxyPort, 'boundary.localhost'),
      ]);
      statuses.push(...burst.map((answer) => answer.status));
      await new Promise((resolve) => setTimeout(resolve, gap));
    }
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(statuses).toHaveLength(gaps.length * 2);
  });

  it('scales to three instances for six slow concurrent requests (targetConcurrency 2) and back to minInstances after idle', async () => {
    await apply('wide', { minInstances: 0, maxInstances: 3, targetConcurrency: 2, idleTimeout: '2s' });
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => request(up.luma.proxyPort, 'wide.localhost', '/cgi-bin/slow?2')),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(200));
    expect((await containersOf(instance, 'wide')).length).toBe(3);
    expect((await runningContainersOf(instance, 'wide')).length).toBe(3);
    await eventually(
      async () => (await runningContainersOf(instance, 'wide')).length === 0,
      15_000,
      'scale back to zero',
    );
  });

  it('resumes a paused project on its next request without starting a container', async () => {
    await apply('frozen', { idleTimeout: '60s', pauseAfter: '1s' });
    expect((await request(up.luma.proxyPort, 'frozen.localhost')).status).toBe(200);
    const [container] = await eventually(
      async () => {
        const all = await containersOf(instance, 'frozen');
        return all.length === 1 && all[0]?.State === 'paused' && all;
      },
      10_000,
      'the container paused after pauseAfter',
    );

    const actions: string[] = [];
    const events = await docker.getEvents({ filters: { container: [container!.Id] } });
    events.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) actions.push((JSON.parse(line) as { Action: string }).Action);
    });
    try {
      const answer = await request(up.luma.proxyPort, 'frozen.localhost');
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('hello from the test app\n');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(actions).toContain('unpause');
      expect(actions).not.toContain('start');
      expect((await containersOf(instance, 'frozen')).map((c) => [c.Id, c.State])).toEqual([
        [container!.Id, 'running'],
      ]);
    } finally {
      (events as unknown as { destroy(): void }).destroy();
    }
  });
});
