import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LumaEvent } from '../../src/events/event-log.js';
import type { ProjectObject } from '../../src/model/types.js';
import { docker, runningContainersOf } from '../support/docker.js';
import { writeContext } from '../support/images.js';
import { apiFetch, eventually, request, runCli, type HttpAnswer } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// spec.liveness through a real `luma up` on the real engine. Two instances of a busybox
// httpd answer /cgi-bin/who with their hostname (the container id) and /cgi-bin/healthz
// with 500 once /www/sick exists. Under steady traffic, the flag is created in one
// instance with `docker exec`: that instance is taken out and replaced while the other
// keeps serving, and no request fails.

const run = promisify(execFile);

const CGI_HEADERS = "printf 'Content-Type: text/plain\\r\\n\\r\\n'";
const HEALTHZ = [
  '#!/bin/busybox sh',
  // busybox httpd sends 200 unless the script writes its own status line.
  "if [ -e /www/sick ]; then printf 'HTTP/1.1 500 Sick\\r\\nContent-Type: text/plain\\r\\n\\r\\nsick\\n'; exit 0; fi",
  CGI_HEADERS,
  'echo ok',
  '',
].join('\n');
const WHO = ['#!/bin/busybox sh', CGI_HEADERS, '/bin/busybox hostname', ''].join('\n');
const DOCKERFILE = [
  'FROM scratch',
  'COPY busybox /bin/busybox',
  'COPY www /www',
  'ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]',
  '',
].join('\n');

const HOST = 'live.localhost';

function manifest(image: string): string {
  return [
    'apiVersion: luma.dev/v1alpha1',
    'kind: Project',
    'metadata:',
    '  name: live',
    'spec:',
    `  image: ${image}`,
    `  hostnames: [${HOST}]`,
    '  scaling: { minInstances: 2, maxInstances: 2 }',
    '  liveness:',
    '    httpGet: { path: /cgi-bin/healthz }',
    '    periodSeconds: 1',
    '    failureThreshold: 2',
    '',
  ].join('\n');
}

/** Requests one after another until stopped: what a steady client sees. */
function steadyTraffic(port: number): { answers: Array<HttpAnswer | Error>; stop: () => Promise<void> } {
  const answers: Array<HttpAnswer | Error> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      answers.push(await request(port, HOST, '/cgi-bin/who', 10_000).catch((error: Error) => error));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    answers,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('spec.liveness', () => {
  const up = lumaUpFor('liveness', { resyncInterval: '1s', stopTimeout: '1s' });
  let image: string;

  beforeAll(async () => {
    image = `luma-test/liveness:${up.instance}`;
    const context = path.join(up.dir, 'context');
    await writeContext(context, {
      Dockerfile: DOCKERFILE,
      'www/index.html': 'hello\n',
      'www/cgi-bin/healthz': { content: HEALTHZ, mode: 0o755 },
      'www/cgi-bin/who': { content: WHO, mode: 0o755 },
    });
    await run('docker', ['build', '-q', '--label', `luma.dev/instance=${up.instance}`, '-t', image, context]);
  });

  afterAll(async () => {
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
  });

  async function events(): Promise<LumaEvent[]> {
    const answer = await apiFetch(up.luma.api, '/api/v1alpha1/events?kind=Project&name=live');
    return ((await answer.json()) as { items: LumaEvent[] }).items;
  }

  it('replaces an instance whose health path starts failing while the other keeps serving', async () => {
    const file = path.join(up.dir, 'live.yaml');
    await writeFile(file, manifest(image));
    const applied = await runCli(['apply', '-f', file], { api: up.luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    const [sick, healthy] = await eventually(
      async () => {
        const project = JSON.parse(
          (await runCli(['get', 'project', 'live', '-o', 'json'], { api: up.luma.api })).stdout,
        ) as ProjectObject;
        const running = await runningContainersOf(up.instance, 'live');
        return project.status?.phase === 'Running' && running.length === 2 && running;
      },
      20_000,
      'two instances running',
    );
    if (!sick || !healthy) throw new Error('expected two instances');

    const traffic = steadyTraffic(up.luma.proxyPort);
    await eventually(async () => traffic.answers.length > 20, 10_000, 'traffic flowing');
    const exec = await docker.getContainer(sick.Id).exec({ Cmd: ['/bin/busybox', 'touch', '/www/sick'] });
    await exec.start({});

    const replacement = await eventually(
      async () => {
        const running = await runningContainersOf(up.instance, 'live');
        const ids = running.map((container) => container.Id);
        const fresh = running.find((container) => container.Id !== healthy.Id && container.Id !== sick.Id);
        return !ids.includes(sick.Id) && ids.includes(healthy.Id) && fresh;
      },
      20_000,
      'the failing instance replaced',
    );
    // Steady traffic reaches the replacement too before it stops.
    // The answering container's hostname (its short id); never empty, so it matches one container at most.
    const served = (answer: HttpAnswer | Error): string =>
      answer instanceof Error || answer.body.trim() === '' ? '(none)' : answer.body.trim();
    const fromReplacement = (): boolean => traffic.answers.some((a) => replacement.Id.startsWith(served(a)));
    await eventually(async () => fromReplacement(), 10_000, 'the replacement serving');
    await traffic.stop();

    const failed = traffic.answers.filter((answer) => answer instanceof Error || answer.status !== 200);
    expect(failed).toEqual([]);
    const servers = traffic.answers.map(served);
    const healthyServed = servers
      .map((host, index) => (healthy.Id.startsWith(host) ? index : -1))
      .filter((i) => i >= 0);
    // The healthy instance served before, during and after the replacement.
    expect(healthyServed[0]).toBeLessThan(servers.findIndex((host) => replacement.Id.startsWith(host)));
    expect(healthyServed.at(-1)).toBeGreaterThan(servers.findLastIndex((host) => sick.Id.startsWith(host)));
    expect(
      await docker
        .getContainer(sick.Id)
        .inspect()
        .catch(() => undefined),
    ).toBeUndefined();

    const unhealthy = (await events()).filter((event) => event.reason === 'Unhealthy');
    expect(unhealthy).toHaveLength(1);
    expect(unhealthy[0]?.type).toBe('Warning');
    expect(unhealthy[0]?.message).toContain(
      `container ${sick.Names[0]?.replace(/^\//, '')} failed its liveness check 2 times in a row (last: HTTP 500)`,
    );
    const metrics = await (await apiFetch(up.luma.api, '/metrics')).text();
    expect(metrics).toContain('luma_liveness_failures_total{project="live"} 1');
  });
});
