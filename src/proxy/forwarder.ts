import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import type { Target } from './route-table.js';

// Forwards one request to one target over undici's keep-alive connection pools. undici's
// dispatch interface hands over response chunks with backpressure (onData's return value)
// and no stream objects per request, which is what makes it the fastest HTTP/1.1 client
// Node has; nothing is buffered whole in either direction.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
/** undici refuses these on a request; `expect: 100-continue` is answered by Node itself. */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'expect']);

export type ForwardOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'upstream-error'; error: Error }
  | { kind: 'response-timeout' }
  | { kind: 'client-aborted' };

export interface ForwardOptions {
  responseTimeoutMs: number;
  /** Keep the client's X-Forwarded-* (a trusted proxy in front) rather than overwrite them. */
  trustForwardedHeaders: boolean;
  /** Told when the upstream's answer begins (for the time to first byte of a held request). */
  onResponseHead?: () => void;
}

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const tokens = new Set<string>();
  for (const part of Array.isArray(value) ? value : value ? [value] : []) {
    for (const token of part.split(',')) tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

export function withoutHopByHop(source: IncomingHttpHeaders, keepUpgrade = false): OutgoingHttpHeaders {
  const named = connectionTokens(source.connection);
  const result: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const upgradeHeader = keepUpgrade && (key === 'upgrade' || key === 'connection');
    if (!upgradeHeader && (HOP_BY_HOP.has(key) || named.has(key))) continue;
    result[key] = value;
  }
  return result;
}

export function upstreamHeaders(req: IncomingMessage, trustForwardedHeaders: boolean, keepUpgrade = false): OutgoingHttpHeaders {
  const headers = withoutHopByHop(req.headers, keepUpgrade);
  const clientAddress = req.socket.remoteAddress ?? '';
  const priorFor = trustForwardedHeaders ? req.headers['x-forwarded-for'] : undefined;
  headers['x-forwarded-for'] = priorFor ? `${String(priorFor)}, ${clientAddress}` : clientAddress;
  const scheme = (req.socket as Partial<TLSSocket>).encrypted ? 'https' : 'http';
  // At the edge the proxy decides the scheme and host it was reached with; clients cannot spoof them.
  headers['x-forwarded-proto'] = trustForwardedHeaders ? (req.headers['x-forwarded-proto'] ?? scheme) : scheme;
  const host = trustForwardedHeaders ? (req.headers['x-forwarded-host'] ?? req.headers.host) : req.headers.host;
  if (host) headers['x-forwarded-host'] = host;
  if (!keepUpgrade) delete headers.expect;
  return headers;
}

function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Response headers as a flat name/value list (repeated headers such as Set-Cookie stay apart). */
function responseHeaders(raw: Buffer[]): string[] {
  const named = new Set<string>();
  for (let index = 0; index + 1 < raw.length; index += 2) {
    if (raw[index]?.toString('latin1').toLowerCase() === 'connection') for (const token of connectionTokens(raw[index + 1]?.toString('latin1'))) named.add(token);
  }
  const headers: string[] = [];
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index]?.toString('latin1') ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    headers.push(name, raw[index + 1]?.toString('latin1') ?? '');
  }
  return headers;
}

export class Forwarder {
  private readonly agent = new Agent({ keepAliveTimeout: 60_000, connections: null, pipelining: 1 });

  forward(req: IncomingMessage, res: ServerResponse, target: Target, options: ForwardOptions): Promise<ForwardOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      let responseTimer: NodeJS.Timeout | undefined;
      let abortUpstream: ((error?: Error) => void) | undefined;
      const finish = (outcome: ForwardOutcome): void => {
        if (settled) return;
        settled = true;
        if (responseTimer) clearTimeout(responseTimer);
        resolve(outcome);
      };
      // Like nginx's proxy_read_timeout, the clock starts once the client has sent the whole
      // request: a slow upload is not a slow response.
      const startResponseClock = (): void => {
        if (settled || res.headersSent) return;
        responseTimer = setTimeout(() => {
          // Settled first: aborting calls onError at once, which must not win.
          finish({ kind: 'response-timeout' });
          abortUpstream?.(new Error('response timeout'));
        }, options.responseTimeoutMs);
      };
      const hasBody = requestHasBody(req);
      // A body is read by undici as it sends it, so its 'end' marks the upload's end.
      if (!hasBody || req.complete) startResponseClock();
      else req.once('end', startResponseClock);

      // A client that goes away aborts the upstream request instead of leaving it running.
      res.once('close', () => {
        if (!res.writableFinished) {
          finish({ kind: 'client-aborted' });
          abortUpstream?.(new Error('client closed the connection'));
        }
      });

      const handler: Dispatcher.DispatchHandler = {
        onConnect: (abort) => {
          abortUpstream = abort;
          if (settled) abort(new Error('already settled'));
        },
        onHeaders: (statusCode, rawHeaders, resume, statusText) => {
          if (responseTimer) clearTimeout(responseTimer);
          if (settled) return false;
          res.writeHead(statusCode, statusText, responseHeaders(rawHeaders));
          options.onResponseHead?.();
          // Event streams must reach the client event by event: no buffering of headers.
          res.flushHeaders();
          res.on('drain', resume);
          return true;
        },
        onData: (chunk) => (settled ? false : res.write(chunk)),
        onComplete: () => {
          if (settled) return;
          res.end();
          finish({ kind: 'response', status: res.statusCode });
        },
        onError: (error) => {
          if (settled) return;
          if (res.headersSent) {
            res.destroy();
            finish({ kind: 'client-aborted' });
            return;
          }
          finish({ kind: 'upstream-error', error });
        },
      };

      this.agent.dispatch(
        {
          origin: `http://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`,
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: upstreamHeaders(req, options.trustForwardedHeaders) as Record<string, string | string[]>,
          body: hasBody ? req : null,
          // The proxy's own response timeout applies; undici's would count from the request start.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        handler,
      );
    });
  }

  close(): void {
    void this.agent.destroy();
  }
}
