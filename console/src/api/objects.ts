import { API, call } from './http.js';
import type { LumaObject } from './types.js';

// Writes to single objects, as `luma apply` and `luma delete` make them.

const PLURALS: Record<LumaObject['kind'], string> = {
  Project: 'projects',
  Image: 'images',
  Lease: 'leases',
  Secret: 'secrets',
  Revision: 'revisions',
};

/** The part of an object a manifest owns, with the version it was read at (a stale write is refused). */
export function manifestOf<T extends LumaObject>(object: T, spec: T['spec']): object {
  const { name, labels, annotations, resourceVersion } = object.metadata;
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}), resourceVersion },
    spec,
  };
}

export function putObject(kind: LumaObject['kind'], name: string, body: object): Promise<LumaObject> {
  return call('PUT', `${API}/${PLURALS[kind]}/${encodeURIComponent(name)}`, { json: body });
}

export function deleteObject(kind: LumaObject['kind'], name: string): Promise<LumaObject> {
  return call('DELETE', `${API}/${PLURALS[kind]}/${encodeURIComponent(name)}`);
}

/** Starts a project as its first request would (`luma wake`); the watch shows it Running. */
export function wakeProject(name: string): Promise<LumaObject> {
  return call('POST', `${API}/projects/${encodeURIComponent(name)}/wake`);
}
