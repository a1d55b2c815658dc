import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// Every request through the proxy carries an X-Request-Id to its app, and the same id is
// in the log lines it causes: the proxy's (a held request timing out) and the
// controller's (the wake and the cold start it set off). A well-formed id sent by the
// client (or a proxy in front) is kept; anything else is replaced by a new id.
//
// New ids are UUID-shaped (a version 4 UUID's 36 characters) but cheaper than one each:
// the first 24 characters are random once per process, the last 12 count requests in
// hex. They are unique within a process and, through the 74 random bits of the prefix,
// between processes; they are not unguessable, and need not be (they name requests in
// logs, they grant nothing). randomUUID() per request cost a random draw and a string
// built from 16 bytes on every request the proxy forwards.

export const REQUEST_ID_HEADER = 'x-request-id';
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** The random part shared by this process's ids: "xxxxxxxx-xxxx-4xxx-yxxx-". */
const ID_PREFIX = randomUUID().slice(0, 24);
/** 12 hex digits. */
const COUNTER_LIMIT = 2 ** 48;
let idCounter = 0;

/** A new id: the process's prefix and the next count, as 12 hex digits. */
export function newRequestId(): string {
  idCounter = (idCounter + 1) % COUNTER_LIMIT;
  return ID_PREFIX + idCounter.toString(16).padStart(12, '0');
}

/** A client's id when it is well-formed (several, or anything else, are not), a new one otherwise. */
export function requestIdFrom(given: string | undefined): string {
  return given !== undefined && WELL_FORMED.test(given) ? given : newRequestId();
}

/** The request's id, given to it (in its headers, so it is forwarded) when it had none usable. */
export function ensureRequestId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && WELL_FORMED.test(given)) return given;
  const id = newRequestId();
  req.headers[REQUEST_ID_HEADER] = id;
  return id;
}
