import type { ErrorBody } from '../api/errors.js';
import {
  API_PREFIX,
  DOCKER_STATE_HEADER,
  EVENT_STREAM_EVENT,
  WATCH_ERROR_EVENT,
  WATCH_SYNCED_EVENT,
  type ApplyReport,
  type WatchError,
} from '../api/wire.js';
import type { LumaEvent } from '../events/event-log.js';
import type { WatchEventType } from '../store/store.js';
import { EXIT } from './exit-codes.js';
import { SseParser } from '../logs/sse.js';
import type { LogRecord } from '../logs/object-log.js';
import { KIND_PLURALS, type Kind, type LumaObject } from '../model/types.js';
import type { UsageSummary } from '../usage/summary.js';
import type { SyncStatus } from '../sync/sync-status.js';
import { errorMessage } from '../util/error-message.js';
import type { MetricsSummary } from '../metrics/project-summary.js';

// The CLI's only way to Luma: the HTTP API. Failures become CliError with one line a
// user can act on (and, for invalid manifests, one line per problem).

export const DEFAULT_SERVER = 'http://127.0.0.1:7070';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The API refused a request: its HTTP status, for callers that can say more (which file was too large). */
export class ApiRefusal extends CliError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiRefusal';
  }
}

/** For `.catch`: a refusal for size names what was too large (the server only saw a large body). */
export function nameTooLarge(what: string): (error: unknown) => never {
  return (error: unknown) => {
    if (error instanceof ApiRefusal && error.status === 413) throw new CliError(`${what}: ${error.message}`);
    throw error;
  };
}

export type ApplyResponse = ApplyReport;

/** The server ended a watch (it read too slowly): a failure with the server's reason. */
function watchEnded(data: string): CliError {
  const error = safeJson(data) as Partial<WatchError> | undefined;
  return new CliError(`the server ended the watch: ${error?.message ?? data}`);
}

/** One message of a watch stream: a change, or SYNCED once the present has been sent. */
export type WatchMessage = { type: WatchEventType; object: LumaObject } | { type: 'SYNCED' };

export interface ListQuery {
  labelSelector?: string;
  name?: string;
}

export interface EventQuery {
  kind?: string;
  name?: string;
}

export interface ObjectLogQuery {
  follow: boolean;
  tail?: number;
  since?: string;
}

export interface ObjectLogEnd {
  /** complete, container-gone, object-deleted, shutdown or error (see docs/cli.md). */
  reason: string;
  message: string;
}

/** The token sent with every request, or why the CLI has none (said when the API answers 401). */
export type ApiCredentials = { token: string } | { missing: string };

export class ApiClient {
  private warnedDocker = false;

  constructor(
    readonly server: string = DEFAULT_SERVER,
    private readonly credentials: ApiCredentials = { missing: 'no token given' },
  ) {}

  private authorization(): Record<string, string> {
    return 'token' in this.credentials ? { authorization: `Bearer ${this.credentials.token}` } : {};
  }

  /**
   * The server's message for a refused request, with what the CLI knows about its token.
   * An answer that is not the API's error shape comes from something else listening there
   * (the proxy, another web server): its own 404 page would only mislead.
   */
  private refusal(status: number, text: string, what: string): CliError {
    const body = text ? safeJson(text) : undefined;
    if (!isErrorBody(body)) return this.notLumaApi(`${what} answered HTTP ${status}`);
    return this.failure(status, body.message);
  }

  private notLumaApi(detail: string): CliError {
    return new CliError(
      `this is not the Luma API at ${this.server} (${detail}); point --server or LUMA_SERVER at the API's address (luma up --api-listen, default ${DEFAULT_SERVER})`,
    );
  }

  private failure(status: number, message: string): CliError {
    if (status !== 401) return new ApiRefusal(message, status);
    const why = 'token' in this.credentials ? 'the token given was refused' : this.credentials.missing;
    return new ApiRefusal(`${message} (here: ${why})`, status);
  }

  async request<T>(
    method: string,
    path: string,
    body?: { json?: unknown; yaml?: string; binary?: { data: Buffer; type: string } },
  ): Promise<T> {
    const headers: Record<string, string> = this.authorization();
    let payload: string | Buffer | undefined;
    if (body?.binary !== undefined) {
      headers['content-type'] = body.binary.type;
      payload = body.binary.data;
    } else if (body?.yaml !== undefined) {
      headers['content-type'] = 'application/yaml';
      payload = body.yaml;
    } else if (body?.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    }
    let response: Response;
    try {
      response = await fetch(new URL(path, this.server), {
        method,
        headers,
        body: payload,
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? errorMessage(error);
      throw new CliError(
        `cannot reach the Luma API at ${this.server} (${cause}); is \`luma up\` running? (set --server or LUMA_SERVER to point elsewhere)`,
      );
    }
    this.warnAboutDocker(response);
    const text = await response.text();
    const parsed: unknown = text ? safeJson(text) : undefined;
    if (!response.ok) throw this.refusal(response.status, text, `${method} ${path}`);
    // Every answer of the API is JSON: an HTML page or plain text is someone else's.
    if (text && !isJson(text))
      throw this.notLumaApi(
        `${method} ${path} answered ${response.headers.get('content-type') ?? 'something'} that is not JSON`,
      );
    return parsed as T;
  }

  list(kind: Kind, query: ListQuery = {}): Promise<{ items: LumaObject[] }> {
    return this.request('GET', `${API_PREFIX}/${KIND_PLURALS[kind]}${queryString({ ...query })}`);
  }

  events(query: EventQuery = {}): Promise<{ items: LumaEvent[] }> {
    return this.request('GET', `${API_PREFIX}/events${queryString({ ...query })}`);
  }

  /** Objects of a kind as they are, SYNCED, then every change; ends when `signal` aborts. */
  async *watch(kind: Kind, query: ListQuery, signal?: AbortSignal): AsyncGenerator<WatchMessage> {
    for await (const message of this.stream(
      `${API_PREFIX}/${KIND_PLURALS[kind]}${queryString({ ...query, watch: 'true' })}`,
      signal,
    )) {
      if (message.event === WATCH_SYNCED_EVENT) yield { type: 'SYNCED' };
      else if (message.event === WATCH_ERROR_EVENT) throw watchEnded(message.data);
      else if (message.event === 'ADDED' || message.event === 'MODIFIED' || message.event === 'DELETED')
        yield { type: message.event, object: JSON.parse(message.data) as LumaObject };
    }
  }

  /** Events so far, SYNCED, then each new or repeated one; ends when `signal` aborts. */
  async *watchEvents(query: EventQuery, signal?: AbortSignal): AsyncGenerator<LumaEvent | 'SYNCED'> {
    for await (const message of this.stream(
      `${API_PREFIX}/events${queryString({ ...query, watch: 'true' })}`,
      signal,
    )) {
      if (message.event === WATCH_SYNCED_EVENT) yield 'SYNCED';
      else if (message.event === WATCH_ERROR_EVENT) throw watchEnded(message.data);
      else if (message.event === EVENT_STREAM_EVENT) yield JSON.parse(message.data) as LumaEvent;
    }
  }

  /** Server-sent events from `path`; `what` names the stream in errors (watch, log). */
  private async *stream(
    path: string,
    signal?: AbortSignal,
    what = 'watch',
  ): AsyncGenerator<{ event: string; data: string }> {
    const own = new AbortController();
    const combined = signal ? AbortSignal.any([signal, own.signal]) : own.signal;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.server), {
        headers: { ...this.authorization(), accept: 'text/event-stream' },
        signal: combined,
      });
    } catch (error) {
      if (combined.aborted) return;
      throw new CliError(
        `cannot reach the Luma API at ${this.server} (${causeOf(error)}); is \`luma up\` running? (set --server or LUMA_SERVER to point elsewhere)`,
      );
    }
    this.warnAboutDocker(response);
    if (!response.ok) {
      throw this.refusal(response.status, await response.text(), `GET ${path}`);
    }
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body ?? []) {
        for (const message of parser.push(decoder.decode(chunk as Uint8Array, { stream: true }))) yield message;
      }
    } catch (error) {
      if (combined.aborted) return;
      throw new CliError(`the ${what} stream from ${this.server} broke off (${causeOf(error)})`);
    } finally {
      // A consumer that stops early (or an abort) closes the connection at once.
      own.abort();
    }
    if (!combined.aborted)
      throw new CliError(`the ${what} stream from ${this.server} ended without saying why (was the API stopped?)`);
  }

  get(kind: Kind, name: string): Promise<LumaObject> {
    return this.request('GET', `${API_PREFIX}/${KIND_PLURALS[kind]}/${encodeURIComponent(name)}`);
  }

  /** PUT: replaces the object; a stale metadata.resourceVersion is refused (409). */
  replace(object: LumaObject): Promise<LumaObject> {
    const path = `${API_PREFIX}/${KIND_PLURALS[object.kind]}/${encodeURIComponent(object.metadata.name)}`;
    return this.request('PUT', path, { json: object });
  }

  delete(kind: Kind, name: string): Promise<LumaObject> {
    return this.request('DELETE', `${API_PREFIX}/${KIND_PLURALS[kind]}/${encodeURIComponent(name)}`);
  }

  /** Extends an Active lease's expiry by `extend` (a duration such as 10m). */
  renewLease(name: string, extend: string): Promise<LumaObject> {
    return this.request('POST', `${API_PREFIX}/leases/${encodeURIComponent(name)}/renew`, { json: { extend } });
  }

  /** Per project, cold starts and requests as the API's /metrics counts them. */
  projectMetrics(project?: string): Promise<MetricsSummary> {
    return this.request(
      'GET',
      `${API_PREFIX}/metrics/projects${queryString(project === undefined ? {} : { project })}`,
    );
  }

  /** Asks the controller to start a project as a first request would; answers at once. */
  wakeProject(name: string): Promise<LumaObject> {
    return this.request('POST', `${API_PREFIX}/projects/${encodeURIComponent(name)}/wake`);
  }

  usage(project?: string): Promise<UsageSummary> {
    return this.request(
      'GET',
      `${API_PREFIX}/usage${project !== undefined ? `?project=${encodeURIComponent(project)}` : ''}`,
    );
  }

  /** The watched manifests directory: each file's state, conflicts, prunes held back. */
  syncStatus(): Promise<SyncStatus> {
    return this.request('GET', `${API_PREFIX}/sync`);
  }

  applyFiles(
    files: Array<{ path: string; content: string }>,
    dryRun: boolean,
    contexts: Array<{ file: string; document: number; digest: string }> = [],
  ): Promise<ApplyResponse> {
    return this.request('POST', '/apply/files', { json: { files, dryRun, contexts } });
  }

  uploadContext(data: Buffer, type: string, dockerfile?: string): Promise<{ digest: string }> {
    return this.request('POST', `/contexts${dockerfile ? queryString({ dockerfile }) : ''}`, {
      binary: { data, type },
    });
  }

  /** The build output; with follow, `onText` gets it live until the build ends. */
  async imageLog(name: string, follow: boolean, onText: (text: string) => void): Promise<void> {
    let response: Response;
    try {
      response = await fetch(
        new URL(`${API_PREFIX}/images/${encodeURIComponent(name)}/log${follow ? '?follow=true' : ''}`, this.server),
        { headers: this.authorization() },
      );
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? errorMessage(error);
      throw new CliError(`cannot reach the Luma API at ${this.server} (${cause}); is \`luma up\` running?`);
    }
    if (!response.ok) {
      throw this.refusal(response.status, await response.text(), `GET ${API_PREFIX}/images/${name}/log`);
    }
    const decoder = new TextDecoder();
    for await (const chunk of response.body ?? []) onText(decoder.decode(chunk as Uint8Array, { stream: true }));
  }

  /**
   * A project's or lease's log as server-sent events: `onLine` gets each line, `onNotice`
   * what the server says meanwhile; resolves with why the log ended.
   */
  async objectLog(
    kind: 'Project' | 'Lease',
    name: string,
    query: ObjectLogQuery,
    handlers: { onLine: (record: LogRecord) => void; onNotice: (message: string) => void },
  ): Promise<ObjectLogEnd> {
    const params = new URLSearchParams();
    if (query.follow) params.set('follow', 'true');
    if (query.tail !== undefined) params.set('tail', String(query.tail));
    if (query.since !== undefined) params.set('since', query.since);
    const path = `${API_PREFIX}/${KIND_PLURALS[kind]}/${encodeURIComponent(name)}/log${params.size > 0 ? `?${params}` : ''}`;
    for await (const message of this.stream(path, undefined, 'log')) {
      const data = safeJson(message.data) as Partial<LogRecord & ObjectLogEnd & { message: string }>;
      if (message.event === 'end') return { reason: data.reason ?? 'error', message: data.message ?? 'the log ended' };
      if (message.event === 'notice') handlers.onNotice(data.message ?? message.data);
      else if (message.event === 'message') handlers.onLine(data as LogRecord);
    }
    // stream() throws when the connection ends; only an abort gets here, and none is passed.
    throw new CliError(`the log stream from ${this.server} ended without saying why`);
  }

  private warnAboutDocker(response: Response): void {
    const problem = response.headers.get(DOCKER_STATE_HEADER);
    if (problem && !this.warnedDocker) {
      this.warnedDocker = true;
      process.stderr.write(`warning: Luma ${problem}\n`);
    }
  }
}

function queryString(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, value);
  return search.size > 0 ? `?${search}` : '';
}

function causeOf(error: unknown): string {
  return (error as { cause?: { code?: string } }).cause?.code ?? errorMessage(error);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The shape of every refusal of the Luma API (fastify's own 404 and 413 included). */
function isErrorBody(body: unknown): body is ErrorBody {
  const candidate = body as Partial<ErrorBody> | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.error === 'string' &&
    typeof candidate.message === 'string'
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.trim() };
  }
}
