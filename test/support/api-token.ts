import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

// The token the in-process API of unit and integration tests is made with, and requests
// that carry it: tests about what routes do, not about who may call them (test/unit/api/auth.test.ts).

export const TEST_API_TOKEN = 'test-api-token';
export const AUTHORIZATION: Readonly<Record<'authorization', string>> = { authorization: `Bearer ${TEST_API_TOKEN}` };

/** `app.inject` with the test token added to the headers; `app` is read at each call (tests recreate it). */
export function authorizedInject(
  app: () => FastifyInstance,
): (options: InjectOptions) => Promise<LightMyRequestResponse> {
  return (options) => app().inject({ ...options, headers: { ...options.headers, ...AUTHORIZATION } });
}
