import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EventLog, LumaEvent } from '../events/event-log.js';
import { matchesSelector, parseLabelSelector, SelectorError, type LabelSelector } from '../model/label-selector.js';
import { KIND_PLURALS, KINDS, type Kind, type LumaObject } from '../model/types.js';
import type { ObjectStore } from '../store/store.js';
import { isTrue } from './api-options.js';
import { BadRequestError } from './errors.js';
import { openSseStream } from './sse-stream.js';
import { documented, listOf, refusal } from './openapi.js';
import type { JsonSchema } from './openapi-schemas.js';
import { EVENT_STREAM_EVENT, WATCH_ERROR_EVENT, WATCH_SYNCED_EVENT } from './wire.js';
import { redactObject } from '../secrets/redact.js';

// Lists and watch streams of objects and of events. A list is a JSON answer; with
// `?watch=true` it becomes server-sent events: every current match as ADDED, then one
// SYNCED event (the client now knows the whole present, so "not there" means gone), then
// each change as it is stored (ADDED, MODIFIED, DELETED), until the client goes.

export interface WatchRouteOptions {
  prefix: string;
  store: ObjectStore;
  events: EventLog;
  heartbeatIntervalMs: number;
  /** A watcher that lets more than this pile up unread is dropped (sse-stream.ts). */
  maxBufferedBytes?: number;
}

interface ListQuery {
  watch?: string;
  labelSelector?: string;
  name?: string;
}

const listQuerystring = {
  type: 'object',
  properties: {
    watch: {
      type: 'string',
      description: 'true: stream ADDED for each current object, SYNCED, then every change (server-sent events)',
    },
    labelSelector: {
      type: 'string',
      description: 'kubectl syntax: a=b, a!=b, a, !a, a in (x,y), a notin (x,y); comma means and',
    },
    name: { type: 'string', description: 'only the object of this name' },
  },
} as const;

function selectorOf(query: ListQuery): LabelSelector {
  try {
    return parseLabelSelector(query.labelSelector ?? '');
  } catch (error) {
    if (error instanceof SelectorError) throw new BadRequestError(error.message);
    throw error;
  }
}

type StreamOptions = Pick<WatchRouteOptions, 'heartbeatIntervalMs' | 'maxBufferedBytes'>;

export function registerWatchRoutes(app: FastifyInstance, options: WatchRouteOptions): void {
  for (const kind of KINDS) registerObjectList(app, options, kind);
  registerEventList(app, options);
}

function registerObjectList(app: FastifyInstance, options: WatchRouteOptions, kind: Kind): void {
  app.get(
    `${options.prefix}/${KIND_PLURALS[kind]}`,
    {
      schema: {
        summary: `List ${KIND_PLURALS[kind]}, or watch them with ?watch=true`,
        operationId: `list${kind}s`,
        querystring: listQuerystring,
      },
      config: documented({
        response: {
          200: {
            description: 'the list; with ?watch=true, a stream of server-sent events instead',
            content: { 'application/json': { schema: listOf(kind) }, 'text/event-stream': { schema: WATCH_STREAM } },
          },
          400: refusal('a labelSelector that does not parse'),
        },
      }),
    },
    async (request, reply) => {
      const query = request.query as ListQuery;
      const selector = selectorOf(query);
      const matches = (object: LumaObject): boolean =>
        (query.name === undefined || object.metadata.name === query.name) &&
        matchesSelector(selector, object.metadata.labels);
      if (!isTrue(query.watch)) return { items: options.store.list(kind).filter(matches) };
      return watchObjects(request, reply, options, kind, matches);
    },
  );
}

async function watchObjects(
  request: FastifyRequest,
  reply: FastifyReply,
  options: StreamOptions & { store: ObjectStore },
  kind: Kind,
  matches: (object: LumaObject) => boolean,
): Promise<FastifyReply> {
  const { store } = options;
  const stream = openSseStream(reply, options);
  // Subscribing and reading the present happen in one turn of the event loop: no write
  // can fall between them, so nothing is missed and nothing is sent twice.
  const unsubscribe = store.watch((event) => {
    if (event.object.kind === kind && matches(event.object)) stream.send(event.type, redactObject(event.object));
  });
  for (const object of store.list(kind).filter(matches)) stream.sendPresent('ADDED', redactObject(object));
  stream.send(WATCH_SYNCED_EVENT, {});
  request.log.debug({ kind }, 'watch opened');
  await stream.closed;
  unsubscribe();
  return reply;
}

/** An event as events/event-log.ts records it. */
const EVENTS: JsonSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['seq', 'type', 'reason', 'message', 'object', 'source', 'count', 'firstTimestamp', 'lastTimestamp'],
    properties: {
      seq: { type: 'integer', description: 'increases with every new or repeated event' },
      type: { type: 'string', enum: ['Normal', 'Warning'] },
      reason: { type: 'string' },
      message: { type: 'string' },
      object: { type: 'object', properties: { kind: { type: 'string' }, name: { type: 'string' } } },
      source: { type: 'string', description: 'which part of Luma said it: controller, sync, proxy, api' },
      count: { type: 'integer' },
      firstTimestamp: { type: 'string', format: 'date-time' },
      lastTimestamp: { type: 'string', format: 'date-time' },
    },
  },
};

const WATCH_STREAM: JsonSchema = {
  type: 'string',
  description: `events ADDED, MODIFIED or DELETED (data: the object), ${WATCH_SYNCED_EVENT} once the present is sent, ${WATCH_ERROR_EVENT} last when the server ends the stream`,
};

const EVENT_STREAM: JsonSchema = {
  type: 'string',
  description: `"${EVENT_STREAM_EVENT}" events (data: an event), ${WATCH_SYNCED_EVENT} once the past is sent, ${WATCH_ERROR_EVENT} last when the server ends the stream`,
};

const eventQuerystring = {
  type: 'object',
  properties: {
    kind: { type: 'string', description: 'Project, Image or Lease (or another component, such as Sync)' },
    name: { type: 'string' },
    watch: {
      type: 'string',
      description: 'true: every matching event so far, SYNCED, then each new or repeated one',
    },
  },
} as const;

function registerEventList(app: FastifyInstance, options: WatchRouteOptions): void {
  app.get(
    `${options.prefix}/events`,
    {
      schema: {
        summary: 'Recent events (Normal, Warning; repeats counted), oldest first; ?watch=true streams them',
        querystring: eventQuerystring,
      },
      config: documented({
        response: {
          200: {
            description: 'the events; with ?watch=true, a stream of server-sent events instead',
            content: {
              'application/json': { schema: { type: 'object', required: ['items'], properties: { items: EVENTS } } },
              'text/event-stream': { schema: EVENT_STREAM },
            },
          },
        },
      }),
    },
    async (request, reply) => {
      const query = request.query as { kind?: string; name?: string; watch?: string };
      const filter = { kind: query.kind === undefined ? undefined : canonicalKind(query.kind), name: query.name };
      if (!isTrue(query.watch)) return { items: options.events.list(filter) };
      return watchEvents(reply, options, filter);
    },
  );
}

async function watchEvents(
  reply: FastifyReply,
  options: StreamOptions & { events: EventLog },
  filter: { kind: string | undefined; name: string | undefined },
): Promise<FastifyReply> {
  const matches = (event: LumaEvent): boolean =>
    (filter.kind === undefined || event.object.kind === filter.kind) &&
    (filter.name === undefined || event.object.name === filter.name);
  const stream = openSseStream(reply, options);
  // As for objects: subscribed and read in one turn, so nothing falls between.
  const unsubscribe = options.events.subscribe((event) => {
    if (matches(event)) stream.send(EVENT_STREAM_EVENT, event);
  });
  for (const event of options.events.list(filter)) stream.sendPresent(EVENT_STREAM_EVENT, event);
  stream.send(WATCH_SYNCED_EVENT, {});
  await stream.closed;
  unsubscribe();
  return reply;
}

/** `project`, `projects` and `Project` name the same kind; other kinds (Sync) pass as written. */
function canonicalKind(input: string): string {
  return (
    KINDS.find((kind) => kind.toLowerCase() === input.toLowerCase() || KIND_PLURALS[kind] === input.toLowerCase()) ??
    input
  );
}
