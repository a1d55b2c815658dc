import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LeaseObject, ProjectObject } from '../../../src/model/types.js';
import {
  call,
  lumaGetOne,
  snapshot,
  startCompatLuma,
  type BadInputRow,
  type CompatLuma,
} from '../../support/compat.js';
import { buildTestImage, TEST_IMAGE } from '../../support/docker.js';
import { eventually, runCli } from '../../support/luma.js';

// Seed 003 (ContainerLease): its REST endpoints and its log WebSocket against a real
// `luma up`, with the seed's own bounds (Luma's default lease bounds) and an allowed origin.

const ORIGIN = 'http://localhost:5173';
const CONFIG = `logHeartbeatInterval: 300ms
compat:
  containersApi: containerLease
  containerLease:
    allowedOrigins: [${ORIGIN}]
    imageTypes:
      ubuntu:
        image: ${TEST_IMAGE}
        command: ["/bin/busybox", "sh", "-c", "echo hello from the lease; echo oops >&2; exec /bin/busybox httpd -f -p 8080 -h /www"]
      alpine: ${TEST_IMAGE}
`;

interface Provisioned {
  id: string;
  expiryTime: string;
  createdAt: string;
}

interface LogMessage {
  timestamp: string;
  level: string;
  message: string;
}

/** The first `count` messages of the log WebSocket, with a heartbeat among them. */
function readLog(url: string, wanted: (messages: LogMessage[]) => boolean): Promise<LogMessage[]> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { origin: ORIGIN } });
    const messages: LogMessage[] = [];
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`log messages so far: ${JSON.stringify(messages)}`));
    }, 20_000);
    socket.on('message', (data: Buffer) => {
      messages.push(JSON.parse(data.toString()) as LogMessage);
      if (!wanted(messages)) return;
      clearTimeout(timer);
      socket.close();
      resolve(messages);
    });
    socket.on('error', reject);
  });
}

function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('open', () => {
      socket.close();
      reject(new Error('the upgrade was accepted'));
    });
    socket.on('error', () => undefined);
  });
}

describe('compat: ContainerLease', () => {
  let env: CompatLuma;
  let lease: Provisioned;
  const wsUrl = (id: string, token = true): string =>
    `${env.luma.server.replace('http', 'ws')}/ws/logs/${id}${token ? `?token=${env.luma.api.token}` : ''}`;

  beforeAll(async () => {
    await buildTestImage();
    env = await startCompatLuma('compat-lease', CONFIG);
  });
  afterAll(async () => env?.stop());

  it('POST /api/provision answers { id, expiryTime, createdAt } once the lease is Active', async () => {
    const before = Date.now();
    const answer = await call(env.luma, 'POST', '/api/provision', {
      body: { imageType: 'ubuntu', durationMinutes: 5 },
      headers: { origin: ORIGIN },
    });
    expect(answer.status, answer.text).toBe(201);
    expect(answer.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    lease = answer.json as Provisioned;
    expect(Object.keys(lease).sort()).toEqual(['createdAt', 'expiryTime', 'id']);
    const expiry = Date.parse(lease.expiryTime);
    expect(expiry).toBeGreaterThan(before + 5 * 60_000 - 5_000);
    expect(expiry).toBeLessThan(Date.now() + 5 * 60_000 + 5_000);
    const stored = (await lumaGetOne(env.luma, 'lease', lease.id)) as LeaseObject;
    expect(stored.status?.phase).toBe('Active');
    expect(stored.spec).toMatchObject({ project: 'containerlease-ubuntu', ttl: '5m' });
    expect(stored.status?.resources).toEqual({ cpu: '250m', memory: '256Mi' });
    const project = (await lumaGetOne(env.luma, 'project', 'containerlease-ubuntu')) as ProjectObject;
    expect(project.spec.image).toBe(TEST_IMAGE);
  });

  it('GET /api/containers lists it', async () => {
    const answer = await call(env.luma, 'GET', '/api/containers');
    expect(answer.status).toBe(200);
    const { containers } = answer.json as { containers: Array<Record<string, unknown>> };
    expect(containers).toHaveLength(1);
    expect(containers[0]).toMatchObject({ id: lease.id, imageType: 'ubuntu', status: 'active', cpu: '250m' });
    expect(containers[0]?.expiryTime).toBe(lease.expiryTime);
    // The same under the system's own prefix.
    expect((await call(env.luma, 'GET', '/containerlease/api/containers')).json).toEqual(answer.json);
  });

  it('WS /ws/logs/{id} streams { timestamp, level, message } with heartbeats', async () => {
    const messages = await readLog(wsUrl(lease.id), (seen) =>
      ['hello from the lease', 'oops', ''].every((text) => seen.some((m) => m.message === text)),
    );
    for (const message of messages) expect(Object.keys(message).sort()).toEqual(['level', 'message', 'timestamp']);
    expect(messages).toContainEqual(expect.objectContaining({ level: 'info', message: 'hello from the lease' }));
    expect(messages).toContainEqual(expect.objectContaining({ level: 'error', message: 'oops' }));
    expect(messages).toContainEqual(expect.objectContaining({ level: 'heartbeat' }));
  });

  it('answers a preflight from an allowed origin and refuses other origins', async () => {
    const preflight = await call(env.luma, 'OPTIONS', '/api/provision', {
      token: false,
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(await upgradeStatus(wsUrl(lease.id), { origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(wsUrl(lease.id, false), { origin: ORIGIN })).toBe(401);
    expect(await upgradeStatus(wsUrl('cl-nosuch'), { origin: ORIGIN })).toBe(404);
  });

  it('DELETE /api/containers/{id} answers { success } and the bill is written', async () => {
    const answer = await call(env.luma, 'DELETE', `/api/containers/${lease.id}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ success: true });
    await eventually(
      async () => {
        const usage = await runCli(['get', 'usage', '-o', 'json'], { api: env.luma.api });
        return usage.stdout.includes(lease.id);
      },
      30_000,
      'the lease in the usage ledger',
    );
    const { containers } = (await call(env.luma, 'GET', '/api/containers')).json as {
      containers: Array<{ id: string; status: string }>;
    };
    expect(containers.find((c) => c.id === lease.id)?.status ?? 'released').toBe('released');
  });

  const provision = (body: unknown, headers: Record<string, string> = {}): BadInputRow['options'] => ({
    body,
    headers,
  });
  const rows: BadInputRow[] = [
    {
      what: 'no token',
      method: 'POST',
      path: '/api/provision',
      options: { body: { imageType: 'ubuntu', durationMinutes: 5 }, token: false },
      status: 401,
      message: /token/,
    },
    {
      what: 'a foreign origin',
      method: 'POST',
      path: '/api/provision',
      options: provision({ imageType: 'ubuntu', durationMinutes: 5 }, { origin: 'http://evil.example' }),
      status: 403,
      message: /origin http:\/\/evil\.example is not allowed/,
    },
    {
      what: 'an unknown imageType',
      method: 'POST',
      path: '/api/provision',
      options: provision({ imageType: 'windows', durationMinutes: 5 }),
      status: 400,
      message: /imageType "windows" is not allowed \(allowed: ubuntu, alpine\)/,
    },
    {
      what: 'no imageType',
      method: 'POST',
      path: '/api/provision',
      options: provision({ durationMinutes: 5 }),
      status: 400,
      message: /imageType/,
    },
    {
      what: 'a duration under 5 minutes',
      method: 'POST',
      path: '/api/provision',
      options: provision({ imageType: 'ubuntu', durationMinutes: 4 }),
      status: 400,
      message: /ttl.*5m/,
    },
    {
      what: 'a duration over 120 minutes',
      method: 'POST',
      path: '/api/provision',
      options: provision({ imageType: 'ubuntu', durationMinutes: 121 }),
      status: 400,
      message: /ttl.*(2h|120m)/,
    },
    {
      what: 'a duration that is no number',
      method: 'POST',
      path: '/api/provision',
      options: provision({ imageType: 'ubuntu', durationMinutes: 'soon' }),
      status: 400,
      message: /durationMinutes/,
    },
    {
      what: 'CPU under 250m',
      method: 'POST',
      path: '/api/provision',
      options: provision({ imageType: 'ubuntu', durationMinutes: 5, cpu: 100 }),
      status: 400,
      message: /cpu.*250m/,
    },
    {
      what: 'memory over 2Gi',
      method: 'POST',
      path: '/api/provision',
      options: provision({ imageType: 'ubuntu', durationMinutes: 5, memory: '3Gi' }),
      status: 400,
      message: /memory.*2Gi/,
    },
    {
      what: 'deleting an unknown id',
      method: 'DELETE',
      path: '/api/containers/cl-nosuch',
      status: 404,
      message: /cl-nosuch/,
    },
  ];

  it.each(rows)('refuses $what with $status and changes nothing', async (row) => {
    const before = await snapshot(env.luma);
    const answer = await call(env.luma, row.method, row.path, row.options);
    expect(answer.status, answer.text).toBe(row.status);
    expect((answer.json as { error: string }).error).toMatch(row.message);
    expect(await snapshot(env.luma)).toEqual(before);
  });
});
