import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageObject, ProjectObject } from '../../../src/model/types.js';
import { tarOfDirectory } from '../../support/archives.js';
import {
  call,
  lumaGetOne,
  snapshot,
  startCompatLuma,
  type BadInputRow,
  type CompatLuma,
} from '../../support/compat.js';
import { runningContainersOf } from '../../support/docker.js';
import { httpdContext } from '../../support/images.js';
import { eventually, request } from '../../support/luma.js';

// Seed 004 (Orchestrator): the multipart upload that builds an image, its statuses and
// build logs, containers with max_instances, and lifecycle events carrying app_hostname,
// against a real `luma up`. /api/containers is left unassigned, so its bare path is refused
// and the containers are reached at /orchestrator/api/containers.

interface CloudEventBody {
  type: string;
  data: { app_hostname?: string; image_id?: string; reason: string };
}

function receiver(): Promise<{ url: string; events: CloudEventBody[]; close: () => void }> {
  const events: CloudEventBody[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      events.push(JSON.parse(body) as CloudEventBody);
      res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${port}/events`, events, close: () => server.close() });
    }),
  );
}

async function form(fields: Record<string, string>, archive?: Buffer): Promise<FormData> {
  const data = new FormData();
  for (const [key, value] of Object.entries(fields)) data.append(key, value);
  if (archive) data.append('file', new Blob([archive]), 'app.tar');
  return data;
}

describe('compat: Orchestrator', () => {
  let env: CompatLuma;
  let events: Awaited<ReturnType<typeof receiver>>;
  let archive: Buffer;
  const fields = {
    name: 'hello',
    tag: 'v1',
    app_hostname: 'hello.apps.localhost',
    container_port: '8080',
    min_instances: '0',
    max_instances: '2',
    cpu_limit: '0.5',
    memory_limit: '128m',
  };

  beforeAll(async () => {
    events = await receiver();
    env = await startCompatLuma('compat-orch', `compat:\n  orchestrator:\n    eventUrls: [${events.url}]\n`);
    archive = await tarOfDirectory(await httpdContext(path.join(env.dir, 'app'), 'hello from the orchestrator\n'));
  });
  afterAll(async () => {
    await env?.stop();
    events?.close();
  });

  it('POST /api/images (multipart) answers building, then ready with build logs', async () => {
    const answer = await call(env.luma, 'POST', '/api/images', { rawBody: await form(fields, archive) });
    expect(answer.status, answer.text).toBe(201);
    expect(answer.json).toMatchObject({
      id: 'hello-v1',
      name: 'hello',
      tag: 'v1',
      status: 'building',
      max_instances: 2,
    });
    const ready = await eventually(
      async () => {
        const image = (await call(env.luma, 'GET', '/api/images/hello-v1')).json as { status: string };
        return image.status === 'ready' ? image : undefined;
      },
      60_000,
      'the build',
    );
    expect(ready).toMatchObject({
      app_hostname: 'hello.apps.localhost',
      source_path: expect.stringMatching(/^upload:sha256:/),
    });
    const logs = (await call(env.luma, 'GET', '/api/images/hello-v1/build-logs')).json as { build_logs: string };
    expect(logs.build_logs).toMatch(/COPY|Step|busybox/i);
    const image = (await lumaGetOne(env.luma, 'image', 'hello-v1')) as ImageObject;
    expect(image.status?.phase).toBe('Ready');
    const project = (await lumaGetOne(env.luma, 'project', 'hello-v1')) as ProjectObject;
    expect(project.spec).toMatchObject({
      image: 'hello-v1',
      hostnames: ['hello.apps.localhost'],
      port: 8080,
      resources: { cpu: '0.5', memory: '128Mi' },
      scaling: { minInstances: 0, maxInstances: 2 },
    });
    const list = (await call(env.luma, 'GET', '/api/images/with-containers')).json as Array<Record<string, unknown>>;
    expect(list).toEqual([expect.objectContaining({ id: 'hello-v1', container_count: 0 })]);
  });

  it('a broken Dockerfile ends build_failed with its logs', async () => {
    const broken = await tarOfDirectory(
      await httpdContext(path.join(env.dir, 'broken'), 'x', { Dockerfile: 'FROM scratch\nCOPY nothing-here /x\n' }),
    );
    const answer = await call(env.luma, 'POST', '/orchestrator/api/images', {
      rawBody: await form({ ...fields, tag: 'broken', app_hostname: 'broken.apps.localhost' }, broken),
    });
    expect(answer.status, answer.text).toBe(201);
    const failed = await eventually(
      async () => {
        const image = (await call(env.luma, 'GET', '/api/images/hello-broken')).json as {
          status: string;
          build_logs: string;
        };
        return image.status === 'build_failed' ? image : undefined;
      },
      60_000,
      'the failed build',
    );
    expect(failed.build_logs).toMatch(/nothing-here/);
  });

  it('containers: create, start, stop, delete; max_instances enforced; events carry app_hostname', async () => {
    const bare = await call(env.luma, 'POST', '/api/containers/hello-v1');
    expect(bare.status).toBe(409);
    expect((bare.json as { error: string }).error).toMatch(/compat\.containersApi/);

    const created = await call(env.luma, 'POST', '/orchestrator/api/containers/hello-v1');
    expect(created.status, created.text).toBe(201);
    const container = created.json as { id: string; status: string; image_id: string };
    expect(container).toMatchObject({ status: 'running', image_id: 'hello-v1', app_hostname: 'hello.apps.localhost' });
    await eventually(
      async () => (await runningContainersOf(env.instance, 'hello-v1')).length === 1,
      30_000,
      'a running instance',
    );
    expect((await request(env.luma.proxyPort, 'hello.apps.localhost')).body).toBe('hello from the orchestrator\n');
    const event = await eventually(
      async () => events.events.find((e) => e.data.reason === 'ContainerStarted' || e.data.reason === 'ContainerReady'),
      30_000,
      'a lifecycle event',
    );
    expect(event.data).toMatchObject({ app_hostname: 'hello.apps.localhost', image_id: 'hello-v1' });

    expect((await call(env.luma, 'POST', '/orchestrator/api/containers/hello-v1')).status).toBe(201);
    const third = await call(env.luma, 'POST', '/orchestrator/api/containers/hello-v1');
    expect(third.status).toBe(409);
    expect((third.json as { error: string }).error).toMatch(/max_instances \(2\)/);
    expect(((await lumaGetOne(env.luma, 'project', 'hello-v1')) as ProjectObject).spec.scaling?.minInstances).toBe(2);

    const stopped = await call(env.luma, 'POST', `/orchestrator/api/containers/${container.id}/stop`);
    expect(stopped.json).toMatchObject({ id: container.id, status: 'stopped' });
    expect(((await lumaGetOne(env.luma, 'project', 'hello-v1')) as ProjectObject).spec.scaling?.minInstances).toBe(1);
    const started = await call(env.luma, 'POST', `/orchestrator/api/containers/${container.id}/start`);
    expect(started.json).toMatchObject({ status: 'running' });
    expect((await call(env.luma, 'GET', `/orchestrator/api/containers/${container.id}`)).json).toMatchObject({
      id: container.id,
    });
    const all = (await call(env.luma, 'GET', '/orchestrator/api/containers/')).json as unknown[];
    expect(all).toHaveLength(2);
    expect((await call(env.luma, 'DELETE', `/orchestrator/api/containers/${container.id}`)).status).toBe(200);
    expect((await call(env.luma, 'GET', '/api/images/hello-v1/containers')).json).toHaveLength(1);
  });

  const rows: BadInputRow[] = [
    { what: 'no token', method: 'GET', path: '/api/images', options: { token: false }, status: 401, message: /token/ },
    {
      what: 'no file',
      method: 'POST',
      path: '/api/images',
      options: { rawBody: 'x' },
      status: 400,
      message: /multipart/,
    },
    { what: 'an unknown image', method: 'GET', path: '/api/images/nosuch', status: 404, message: /nosuch/ },
    {
      what: 'containers of an unknown image',
      method: 'POST',
      path: '/orchestrator/api/containers/nosuch',
      status: 404,
      message: /nosuch/,
    },
    {
      what: 'an unknown container',
      method: 'POST',
      path: '/orchestrator/api/containers/nosuch-1/start',
      status: 404,
      message: /nosuch-1/,
    },
    {
      what: 'containers of a failed build',
      method: 'POST',
      path: '/orchestrator/api/containers/hello-broken',
      status: 409,
      message: /build_failed/,
    },
  ];

  it.each(rows)('refuses $what with $status and changes nothing', async (row) => {
    const before = await snapshot(env.luma);
    const answer = await call(env.luma, row.method, row.path, row.options);
    expect(answer.status, answer.text).toBe(row.status);
    expect((answer.json as { error: string }).error).toMatch(row.message);
    expect(await snapshot(env.luma)).toEqual(before);
  });

  it.each([
    ['no name', { ...fields, name: '' }, /"name" is required/],
    ['no app_hostname', { ...fields, app_hostname: '' }, /"app_hostname" is required/],
    ['a port out of range', { ...fields, container_port: '0' }, /container_port/],
    ['min above max', { ...fields, tag: 'x', min_instances: '3' }, /min_instances \(3\) is above max_instances/],
    ['a bad hostname', { ...fields, tag: 'y', app_hostname: 'no spaces' }, /hostnames/],
    ['an image that exists', fields, /exists/],
    ['a bad cpu_limit', { ...fields, tag: 'z', cpu_limit: 'lots' }, /cpu/],
  ])('refuses an upload with %s', async (_what, bad, message) => {
    const before = await snapshot(env.luma);
    const answer = await call(env.luma, 'POST', '/api/images', { rawBody: await form(bad, archive) });
    expect([400, 409]).toContain(answer.status);
    expect((answer.json as { error: string }).error).toMatch(message);
    expect(await snapshot(env.luma)).toEqual(before);
  });
});
