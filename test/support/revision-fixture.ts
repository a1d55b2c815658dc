import { API_VERSION, type RevisionObject, type RevisionStatus } from '../../src/model/types.js';

/** Revision `number` of project "web" (uid "u1"), running `img:<number>`, with `status` when given. */
export function webRevision(number: number, status?: RevisionStatus): RevisionObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Revision',
    metadata: { name: `web-${number}` },
    spec: { project: 'web', projectUid: 'u1', number, image: `img:${number}`, template: {} },
    ...(status ? { status } : {}),
  };
}
