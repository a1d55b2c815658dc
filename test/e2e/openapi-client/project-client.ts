import createClient from 'openapi-fetch';
import type { components, paths } from './generated/luma-api.js';

// A client of the Luma API typed from its OpenAPI document alone: openapi-typescript
// writes ./generated/luma-api.ts from a running Luma's /openapi.json (in
// test/e2e/openapi-client.test.ts, never by hand) and tsc checks this file against it
// before the test runs it. It is left out of `npm run typecheck`, which runs before any
// Luma does (tsconfig.test.json).

export type Project = components['schemas']['Project'];
type LumaClient = ReturnType<typeof lumaClient>;

export function lumaClient(server: string, token: string) {
  return createClient<paths, 'application/json'>({ baseUrl: server, headers: { authorization: `Bearer ${token}` } });
}

export interface RoundTrip {
  createdUid: string | undefined;
  readImage: string;
  listedNames: string[];
  deletedName: string;
}

/** Create, get, list (by label) and delete one Project, each answer read through its generated type. */
export async function projectRoundTrip(client: LumaClient, project: Project, selector: string): Promise<RoundTrip> {
  const path = { name: project.metadata.name };
  const created = await client.PUT('/api/v1alpha1/projects/{name}', { params: { path }, body: project });
  if (!created.data) throw new Error(`create: ${created.error?.message}`);
  const read = await client.GET('/api/v1alpha1/projects/{name}', { params: { path } });
  if (!read.data) throw new Error(`get: ${read.error?.message}`);
  const listed = await client.GET('/api/v1alpha1/projects', { params: { query: { labelSelector: selector } } });
  if (!listed.data) throw new Error(`list: ${listed.error?.message}`);
  const deleted = await client.DELETE('/api/v1alpha1/projects/{name}', { params: { path } });
  if (!deleted.data) throw new Error(`delete: ${deleted.error?.message}`);
  return {
    createdUid: created.data.metadata.uid,
    readImage: read.data.spec.image,
    listedNames: listed.data.items.map((item) => item.metadata.name),
    deletedName: deleted.data.metadata.name,
  };
}

/** A read of one Project that may fail: the status, and the Error body's `error` (NotFound…). */
export async function readProject(client: LumaClient, name: string): Promise<{ status: number; error?: string }> {
  const read = await client.GET('/api/v1alpha1/projects/{name}', { params: { path: { name } } });
  return { status: read.response.status, ...(read.error ? { error: read.error.error } : {}) };
}

/**
 * Never run: tsc must refuse each line below its directive (an unused @ts-expect-error is
 * itself an error), which shows the generated types are strict enough to be worth having.
 */
export function refusedByTheTypes(client: LumaClient): void {
  const spec = { image: 'busybox' };
  // @ts-expect-error a Project's spec needs hostnames
  const noHostnames: Project['spec'] = spec;
  // @ts-expect-error a Project's kind is the constant Project
  const wrongKind: Project['kind'] = 'Lease';
  // @ts-expect-error maxInstances is an integer
  const scaling: NonNullable<Project['spec']['scaling']> = { maxInstances: '2' };
  // @ts-expect-error the API has no such path
  void client.GET('/api/v1alpha1/nothing');
  void [noHostnames, wrongKind, scaling];
}
