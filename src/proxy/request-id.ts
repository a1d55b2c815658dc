import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// Every request through the proxy carries an X-Request-Id to its app, and the same id is
// in the log lines it causes: the proxy's (a held request timing out) and the
// controller's (the wake and the cold start it set off). A well-formed id sent by the
// client (or a proxy in front) is kept; anything else is replaced.

export const REQUEST_ID_HEADER = 'x-request-id';
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id, given to it (in its headers, so it is forwarded) when it had none usable. */
export function ensureRequestId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && WELL_FORMED.test(given)) return given;
  const id = randomUUID();
  req.headers[REQUEST_ID_HEADER] = id;
  return id;
}
