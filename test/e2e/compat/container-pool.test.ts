import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { eventually } from '../../support/luma.js';

// Seed 002 (container pool): its curl lines against a real `luma up`, with the seed's
// POOL_* settings and no authentication (the seed had none: compat.anonymous lists it).

const CONFIG = `compat:
  anonymous: [containerPool]
  containerPool:
    image: ${TEST_IMAGE}
    POOL_TARGET_INSTANCES: "2"
    POOL_BATCH_SIZE: "1"
    POOL_BATCH_SPACING_IN_SECONDS: "0"
`;

describe('compat: container pool', () => {
  let env: CompatLuma;
  const anonymous = { token: false };

  beforeAll(async () => {
    await buildTestImage();
    env = await startCompatLuma('compat-pool', CONFIG);
  });
  afterAll(async () => env?.stop());

  it('POST /container {"location": "wnam"} answers { id } and makes a Lease on the pool project', async () => {
    const answer = await call(env.luma, 'POST', '/container', { ...anonymous, body: { location: 'wnam' } });
    expect(answer.status, answer.text).toBe(200);
    const { id } = answer.json as { id: string };
    expect(Object.keys(answer.json as object)).toEqual(['id']);
    const lease = (await lumaGetOne(env.luma, 'lease', id)) as LeaseObject;
    expect(lease.status?.phase).toBe('Active');
    expect(lease.spec).toMatchObject({ project: 'container-pool', ttl: '3600s' });
    expect(lease.metadata.annotations?.['compat.luma.dev/location']).toBe('wnam');
    const project = (await lumaGetOne(env.luma, 'project', 'container-pool')) as ProjectObject;
    expect(project.spec.pool?.size).toBe(2);

    // `curl …/container/some-container-id`, then any method below it.
    const page = await call(env.luma, 'GET', `/container/${id}`, anonymous);
    expect(page.status).toBe(200);
    expect(page.headers.get('x-container-id')).toBe(id);
    const posted = await call(env.luma, 'POST', `/container/${id}/cgi-bin/env?x=1`, {
      ...anonymous,
      rawBody: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(posted.status).toBe(200);
    expect(posted.text).toMatch(/REQUEST_METHOD=POST/);
    expect(posted.text).toMatch(/QUERY_STRING=x=1/);
    expect(posted.headers.get('x-container-id')).toBe(id);
  });

  it('claims from the ready pool (POOL_TARGET_INSTANCES) once it is filled', async () => {
    await eventually(
      async () => {
        const project = (await lumaGetOne(env.luma, 'project', 'container-pool')) as ProjectObject;
        return (project.status?.pool?.ready ?? 0) >= 1;
      },
      60_000,
      'a ready pool container',
    );
    // The seed's second example: content type, no body.
    const answer = await call(env.luma, 'POST', '/container', {
      ...anonymous,
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status, answer.text).toBe(200);
    const lease = (await lumaGetOne(env.luma, 'lease', (answer.json as { id: string }).id)) as LeaseObject;
    expect(lease.status?.fromPool).toBe(true);
  });

  it('records maxLifetimeInSeconds as the lease ttl', async () => {
    const answer = await call(env.luma, 'POST', '/container', {
      ...anonymous,
      body: { location: 'weur', maxLifetimeInSeconds: 1800 },
    });
    expect(answer.status, answer.text).toBe(200);
    const lease = (await lumaGetOne(env.luma, 'lease', (answer.json as { id: string }).id)) as LeaseObject;
    expect(lease.spec.ttl).toBe('1800s');
    expect(lease.metadata.annotations).toMatchObject({
      'compat.luma.dev/location': 'weur',
      'compat.luma.dev/max-lifetime-seconds': '1800',
    });
  });

  it('GET /openapi returns an OpenAPI 3.1 document with the compat routes', async () => {
    const answer = await call(env.luma, 'GET', '/openapi', anonymous);
    expect(answer.status).toBe(200);
    const doc = answer.json as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/container', '/container/{id}', '/openapi', '/projects', '/api/provision', '/apply'])
      expect(Object.keys(doc.paths)).toContain(path);
  });

  it("GET /studio redirects to the web console's Studio view, without a token", async () => {
    for (const path of ['/studio', '/containerpool/studio']) {
      const answer = await fetch(new URL(path, env.luma.server), { redirect: 'manual' });
      expect(answer.status, path).toBe(302);
      expect(answer.headers.get('location')).toBe('/console/#/studio');
    }
    const doc = (await call(env.luma, 'GET', '/openapi', anonymous)).json as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/studio');
  });

  const rows: BadInputRow[] = [
    {
      what: 'an unknown location',
      method: 'POST',
      path: '/container',
      options: { ...anonymous, body: { location: 'mars' } },
      status: 400,
      message: /location "mars" is not one of wnam/,
    },
    {
      what: 'a lifetime of 0',
      method: 'POST',
      path: '/container',
      options: { ...anonymous, body: { maxLifetimeInSeconds: 0 } },
      status: 400,
      message: /maxLifetimeInSeconds/,
    },
    {
      what: 'a lifetime that is no number',
      method: 'POST',
      path: '/container',
      options: { ...anonymous, body: { maxLifetimeInSeconds: 'long' } },
      status: 400,
      message: /maxLifetimeInSeconds/,
    },
    {
      what: 'a lifetime under the lease bounds',
      method: 'POST',
      path: '/container',
      options: { ...anonymous, body: { maxLifetimeInSeconds: 10 } },
      status: 400,
      message: /ttl/,
    },
    {
      what: 'a body that is no JSON',
      method: 'POST',
      path: '/container',
      options: { ...anonymous, rawBody: '{', headers: { 'content-type': 'application/json' } },
      status: 400,
      message: /JSON/,
    },
    {
      what: 'an unknown container',
      method: 'GET',
      path: '/container/pool-nosuch/x',
      options: anonymous,
      status: 404,
      message: /pool-nosuch/,
    },
    {
      what: 'another system without a token',
      method: 'POST',
      path: '/projects',
      options: { ...anonymous, body: {} },
      status: 401,
      message: /token/,
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
