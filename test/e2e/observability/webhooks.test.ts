import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../../src/events/cloudevents.js';
import { openEndpoint } from '../../support/api.js';
import { buildTestImage, removeInstanceContainers, TEST_IMAGE, testInstance } from '../../support/docker.js';
import { eventually, projectManifest, request, runCli, startLuma, tempDir, type LumaProcess } from '../../support/luma.js';

// Lifecycle webhooks from a real `luma up`: one receiver answers 500 to the first
// delivery and gets it again; another never answers at all, and the project still
// cold-starts, serves and idles while that receiver's bounded queue drops what it cannot hold.

interface Receiver {
  url: string;
  /** Every delivery attempt, in arrival order. */
  attempts: CloudEvent[];
  close(): Promise<void>;
}

async function startReceiver(answer: (event: CloudEvent, attempt: number) => number | 'hang'): Promise<Receiver> {
  const attempts: CloudEvent[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const event = JSON.parse(body) as CloudEvent;
      attempts.push(event);
      const status = answer(event, attempts.filter((seen) => seen.id === event.id).length);
      if (status !== 'hang') res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    attempts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function firstSeen(attempts: CloudEvent[]): CloudEvent[] {
  const seen = new Set<string>();
  return attempts.filter((event) => !seen.has(event.id) && seen.add(event.id));
}

describe('lifecycle webhooks', () => {
  const instance = testInstance('hooks');
  let dir: string;
  let luma: LumaProcess;
  let flaky: Receiver;
  let hanging: Receiver;

  beforeAll(async () => {
    await buildTestImage();
    // Answers 500 to the first attempt of the first event, then 200 to everything.
    flaky = await startReceiver((_event, attempt) => (flaky.attempts.length === 1 && attempt === 1 ? 500 : 200));
    hanging = await startReceiver(() => 'hang');
    dir = await tempDir('hooks');
    await mkdir(path.join(dir, 'manifests'));
    const config = path.join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        'resyncInterval: 1s',
        'stopTimeout: 1s',
        'leases:',
        '  minTtl: 1s',
        '  gracePeriod: 1s',
        'webhooks:',
        `  urls: [${flaky.url}, ${hanging.url}]`,
        '  queueSize: 3',
        '  maxAttempts: 3',
        '  retryDelay: 100ms',
        // Longer than this whole test: were deliveries awaited, nothing below would finish.
        '  timeout: 10m',
        '',
      ].join('\n'),
    );
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests: path.join(dir, 'manifests'), instance, config });
  });

  afterAll(async () => {
    await luma?.stop();
    await Promise.all([flaky?.close(), hanging?.close()]);
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function apply(file: string, text: string): Promise<void> {
    const target = path.join(dir, file);
    await writeFile(target, text);
    const result = await runCli(['apply', '-f', target], { api: luma.api });
    expect(result.code, result.stderr).toBe(0);
  }

  it('delivers container and lease lifecycle events in order, retrying a 500, while a hanging receiver slows nothing', async () => {
    await apply('hooked.yaml', projectManifest('hooked', { image: TEST_IMAGE, hostnames: ['hooked.localhost'], idleTimeout: '1s' }));
    expect((await request(luma.proxyPort, 'hooked.localhost')).status).toBe(200);
    await apply('lease.yaml', ['apiVersion: luma.dev/v1alpha1', 'kind: Lease', 'metadata:', '  name: hooked-lease', 'spec:', '  project: hooked', '  ttl: 1s', ''].join('\n'));

    const projectTypes = ['dev.luma.container.created', 'dev.luma.container.started', 'dev.luma.container.ready', 'dev.luma.container.stopped'];
    await eventually(async () => {
      const types = firstSeen(flaky.attempts).map((event) => event.type);
      return projectTypes.every((type) => types.includes(type)) && types.includes('dev.luma.lease.expired');
    }, 30_000, 'the project to idle and the lease to expire, as told to the receiver');

    const delivered = firstSeen(flaky.attempts);
    const project = delivered.filter((event) => event.subject === 'project/hooked');
    expect(project.map((event) => event.type)).toEqual(projectTypes);
    for (const event of project) {
      expect(event).toMatchObject({ specversion: '1.0', source: `/luma/${instance}`, datacontenttype: 'application/json', data: { kind: 'Project', name: 'hooked', hostname: 'hooked.localhost' } });
    }
    const lease = delivered.filter((event) => event.subject === 'lease/hooked-lease').map((event) => event.type);
    expect(lease).toEqual(['dev.luma.lease.started', 'dev.luma.lease.expired']);
    expect(delivered.find((event) => event.type === 'dev.luma.lease.expired')?.data.hostname).toBe('hooked-lease.hooked.localhost');

    // The first event was answered 500 and came again; nothing else was sent twice.
    const first = flaky.attempts[0];
    expect(flaky.attempts.filter((event) => event.id === first?.id)).toHaveLength(2);
    expect(flaky.attempts.length).toBe(delivered.length + 1);

    // The hanging receiver got its first event and nothing since; its queue of 3 dropped the rest.
    expect(hanging.attempts).toHaveLength(1);
    const metrics = await openEndpoint(luma.server, '/metrics');
    const dropped = new RegExp(`^luma_webhook_events_total\\{url="${hanging.url.replace(/[.]/g, '\\.')}",result="dropped"\\} (\\d+)$`, 'm').exec(metrics);
    expect(Number(dropped?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(new RegExp(`^luma_webhook_retries_total\\{url="${flaky.url.replace(/[.]/g, '\\.')}"\\} 1$`, 'm'));
  });
});
