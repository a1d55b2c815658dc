import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../support/api-server.js';
import { apiCall } from '../../support/api.js';

// POST /api/provision looks its imageType up in compat.containerLease.imageTypes: only
// the operator's own entries, never what every JavaScript object inherits.

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
  'refuses imageType %s as not allowed, before anything reaches admission',
  async (imageType) => {
    const answer = await apiCall(api.api, 'POST', '/api/provision', { body: { imageType, durationMinutes: 10 } });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error: expect.stringContaining(`imageType "${imageType}" is not allowed`) });
    expect(api.store.list('Project')).toEqual([]);
  },
);
