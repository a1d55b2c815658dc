import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Target } from './route-table.js';

// Forwards one request to one target, streaming both bodies (pipe() applies
// backpressure, so nothing is buffered whole) over a keep-alive upstream pool.

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

export type ForwardOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'upstream-error'; error: Error }
  | { kind: 'response-timeout' }
  | { kind: 'client-aborted' };

export interface ForwardOptions {
  responseTimeoutMs: number;
  /** Keep the client's X-Forwarded-* (a trusted proxy in front) rather than overwrite them. */
  trustForwardedHeaders: boolean;
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
  return headers;
}

export function withoutHopByHop(source: IncomingHttpHeaders, keepUpgrade = false): OutgoingHttpHeaders {
  const named = new Set(HOP_BY_HOP);
  const connection = source.connection;
  if (connection) for (const token of connection.split(',')) named.add(token.trim().toLowerCase());
  if (keepUpgrade) {
    named.delete('upgrade');
    named.delete('connection');
  }
  const result: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(source)) {
    if (value !== undefined && !named.has(key)) result[key] = value;
  }
  return result;
}

export class Forwarder {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });

  forward(req: IncomingMessage, res: ServerResponse, target: Target, options: ForwardOptions): Promise<ForwardOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: ForwardOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(responseTimer);
        resolve(outcome);
      };

      const upstream = http.request({
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: upstreamHeaders(req, options.trustForwardedHeaders),
        agent: this.agent,
      });
      // Like nginx's proxy_read_timeout, the clock starts once the request body has been
      // handed over: a slow upload is not a slow response.
      let responseTimer: NodeJS.Timeout | undefined;
      upstream.on('finish', () => {
        responseTimer = setTimeout(() => {
          upstream.destroy();
          finish({ kind: 'response-timeout' });
        }, options.responseTimeoutMs);
      });

      upstream.on('response', (upstreamRes) => {
        clearTimeout(responseTimer);
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, withoutHopByHop(upstreamRes.headers));
        // Event streams must reach the client event by event: no buffering of headers.
        res.flushHeaders();
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
        res.on('finish', () => finish({ kind: 'response', status: upstreamRes.statusCode ?? 502 }));
      });
      upstream.on('error', (error) => {
        if (settled) return;
        if (res.writableEnded || res.destroyed) {
          finish({ kind: 'client-aborted' });
          return;
        }
        if (res.headersSent) res.destroy();
        finish({ kind: 'upstream-error', error });
      });
      // A client that goes away aborts the upstream request instead of leaving it running.
      res.on('close', () => {
        if (!res.writableFinished) {
          upstream.destroy();
          finish({ kind: 'client-aborted' });
        }
      });
      req.pipe(upstream);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
