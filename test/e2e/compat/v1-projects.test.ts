import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageObject, ProjectObject } from '../../../src/model/types.js';
import {
  call,
  lumaGetOne,
  snapshot,
  startCompatLuma,
  type BadInputRow,
  type CompatLuma,
} from '../../support/compat.js';
import { buildTestImage, runningContainersOf, TEST_IMAGE } from '../../support/docker.js';
import { eventually, request } from '../../support/luma.js';

// Seed 000 (Luma v1): the README's curl lines against a real `luma up`. The example's
// nginxdemos/hello cannot be pulled here, which shows the offline error; the same call with
// the local test image shows the app registered, routed, started and answering.

const SEED_EXAMPLE = {
  name: 'my-nginx-app',
  docker_image: 'nginxdemos/hello',
  env_vars: { APP_ENV: 'development' },
  container_port: 80,
  hostname: 'myapp.localhost',
};

describe('compat: Luma v1 POST /projects', () => {
  let env: CompatLuma;

  beforeAll(async () => {
    await buildTestImage();
    env = await startCompatLuma('compat-v1', '');
  });
  afterAll(async () => env?.stop());

  it('registers the seed example; offline, its pull fails with a clear error', async () => {
    const answer = await call(env.luma, 'POST', '/projects', { body: SEED_EXAMPLE });
    expect(answer.status).toBe(201);
    expect(answer.json).toEqual(SEED_EXAMPLE);
    const project = (await lumaGetOne(env.luma, 'project', 'my-nginx-app')) as ProjectObject;
    expect(project.spec).toMatchObject({
      image: 'my-nginx-app',
      hostnames: ['myapp.localhost'],
      port: 80,
      env: { APP_ENV: 'development' },
      scaling: { minInstances: 0, idleTimeout: '60s' },
    });
    expect(project.metadata.labels?.['compat.luma.dev/system']).toBe('v1');
    const image = await eventually(
      async () => {
        const found = (await lumaGetOne(env.luma, 'image', 'my-nginx-app')) as ImageObject;
        return found.status?.phase === 'Failed' ? found : undefined;
      },
      30_000,
      'the pull to fail',
    );
    expect(image.spec.ref).toBe('nginxdemos/hello');
    expect(image.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/cannot pull nginxdemos\/hello/);
    // `curl -H "Host: myapp.localhost" http://localhost:8080`: refused with the reason, not held.
    const answerApp = await request(env.luma.proxyPort, 'myapp.localhost');
    expect(answerApp.status).toBe(503);
    expect(answerApp.body).toMatch(/my-nginx-app/);
  });

  it('starts a local image on the first request and answers through the proxy', async () => {
    const body = {
      ...SEED_EXAMPLE,
      name: 'hello-app',
      docker_image: TEST_IMAGE,
      container_port: 8080,
      hostname: 'hello.localhost',
    };
    expect((await call(env.luma, 'POST', '/projects', { body })).status).toBe(201);
    await eventually(
      async () => ((await lumaGetOne(env.luma, 'image', 'hello-app')) as ImageObject).status?.phase === 'Ready',
      30_000,
      'image Ready',
    );
    const answer = await request(env.luma.proxyPort, 'hello.localhost', '/cgi-bin/env');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/APP_ENV=development/);
    expect(await runningContainersOf(env.instance, 'hello-app')).toHaveLength(1);
  });

  const rows: BadInputRow[] = [
    {
      what: 'no token',
      method: 'POST',
      path: '/projects',
      options: { body: { ...SEED_EXAMPLE, name: 'x1' }, token: false },
      status: 401,
      message: /token/,
    },
    {
      what: 'no name',
      method: 'POST',
      path: '/projects',
      options: { body: { docker_image: 'a', hostname: 'a.localhost' } },
      status: 400,
      message: /name/,
    },
    {
      what: 'no docker_image',
      method: 'POST',
      path: '/projects',
      options: { body: { name: 'x2', hostname: 'a.localhost' } },
      status: 400,
      message: /docker_image/,
    },
    {
      what: 'a name that is no DNS label',
      method: 'POST',
      path: '/projects',
      options: { body: { ...SEED_EXAMPLE, name: 'My App' } },
      status: 400,
      message: /DNS label/,
    },
    {
      what: 'port out of range',
      method: 'POST',
      path: '/projects',
      options: { body: { ...SEED_EXAMPLE, name: 'x3', container_port: 70000 } },
      status: 400,
      message: /container_port/,
    },
    {
      what: 'env value not a string',
      method: 'POST',
      path: '/projects',
      options: { body: { ...SEED_EXAMPLE, name: 'x4', env_vars: { A: { b: 1 } } } },
      status: 400,
      message: /env_vars/,
    },
    {
      what: 'not JSON',
      method: 'POST',
      path: '/projects',
      options: { rawBody: '{name', headers: { 'content-type': 'application/json' } },
      status: 400,
      message: /JSON/,
    },
    {
      what: 'a name already registered',
      method: 'POST',
      path: '/projects',
      options: { body: SEED_EXAMPLE },
      status: 409,
      message: /already registered/,
    },
    {
      what: 'a hostname another project has',
      method: 'POST',
      path: '/projects',
      options: { body: { ...SEED_EXAMPLE, name: 'x5' } },
      status: 400,
      message: /myapp\.localhost/,
    },
    {
      what: 'a bad hostname',
      method: 'POST',
      path: '/projects',
      options: { body: { ...SEED_EXAMPLE, name: 'x6', hostname: 'no spaces here' } },
      status: 400,
      message: /hostnames/,
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
