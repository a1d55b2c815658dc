import { constants as http2Constants, type ServerHttp2Stream } from 'node:http2';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import type { ForwardOptions, ForwardOutcome } from './exchange.js';
import { ForwardClocks } from './forward-clocks.js';
import { forwardedValues, spellsAProxyHeader } from './forwarded-headers.js';
import { responseHasBody } from './framing-policy.js';
import { connectionNamed, HOP_BY_HOP, rawWithoutHopByHop } from './hop-by-hop.js';
import { REQUEST_ID_HEADER } from './request-id.js';
import type { Target } from './route-table.js';

// Forwards one request to one target over undici's keep-alive connection pools. undici's
// dispatch interface hands over response chunks with backpressure (onData's return value)
// and no stream objects per request, which is what makes it the fastest HTTP/1.1 client
// Node has; nothing is buffered whole in either direction.

export function withoutHopByHop(source: IncomingHttpHeaders, keepUpgrade = false): OutgoingHttpHeaders {
  const named = connectionNamed(source.connection);
  const result: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const upgradeHeader = keepUpgrade && (key === 'upgrade' || key === 'connection');
    if (!upgradeHeader && (HOP_BY_HOP.has(key) || named.has(key))) continue;
    result[key] = value;
  }
  return result;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Cuts a client that took nothing for the send timeout. An HTTP/2 stream is reset with
 * CANCEL: destroyed without an error it would close with NO_ERROR, which a client that is
 * not reading takes as a normal end still to come, so it would never see the cut.
 */
function cutClient(res: ServerResponse): void {
  const stream = (res as unknown as { stream?: ServerHttp2Stream }).stream;
  if (stream) stream.close(http2Constants.NGHTTP2_CANCEL);
  else res.destroy();
}

export function upstreamHeaders(
  req: IncomingMessage,
  trustForwardedHeaders: boolean,
  keepUpgrade = false,
): OutgoingHttpHeaders {
  const headers = withoutHopByHop(req.headers, keepUpgrade);
  for (const name of Object.keys(headers)) if (spellsAProxyHeader(name)) delete headers[name];
  const forwarded = forwardedValues({
    clientAddress: req.socket.remoteAddress,
    encrypted: (req.socket as Partial<TLSSocket>).encrypted === true,
    host: req.headers.host,
    priorFor: single(req.headers['x-forwarded-for']),
    priorProto: single(req.headers['x-forwarded-proto']),
    priorHost: single(req.headers['x-forwarded-host']),
    trustForwardedHeaders,
  });
  // Set after the strip: the headers the proxy sets itself reach the app whatever Connection names.
  headers['x-forwarded-for'] = forwarded.for;
  headers['x-forwarded-proto'] = forwarded.proto;
  if (forwarded.host) headers['x-forwarded-host'] = forwarded.host;
  else delete headers['x-forwarded-host'];
  const requestId = req.headers[REQUEST_ID_HEADER];
  if (requestId !== undefined) headers[REQUEST_ID_HEADER] = requestId;
  if (!keepUpgrade) delete headers.expect;
  return headers;
}

/**
 * Passes a 1xx head on before the final one, as far as node:http can write one: 103
 * Early Hints (its Link headers and the rest); other informational heads are dropped.
 */
function relayInformational(res: ServerResponse, statusCode: number, rawHeaders: readonly (string | Buffer)[]): void {
  if (statusCode !== 103) return;
  const hints: Record<string, string | string[]> = {};
  const headers = rawWithoutHopByHop(rawHeaders);
  for (let index = 0; index + 1 < headers.length; index += 2) {
    const name = (headers[index] as string).toLowerCase();
    const value = headers[index + 1] as string;
    const previous = hints[name];
    hints[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  if (hints.link === undefined) return;
  try {
    res.writeEarlyHints(hints);
  } catch {
    // A Link value node:http will not write: the hint is dropped, the response goes on.
  }
}

function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export class Forwarder {
  private readonly agent = new Agent({ keepAliveTimeout: 60_000, connections: null, pipelining: 1 });

  /** The connection pools, shared with the HTTP/2 streams (tls/http2-exchange.ts). */
  get dispatcher(): Dispatcher {
    return this.agent;
  }

  forward(req: IncomingMessage, res: ServerResponse, target: Target, options: ForwardOptions): Promise<ForwardOutcome> {
    return new Promise((resolve) => {
      let sendTimer: NodeJS.Timeout | undefined;
      const clocks = new ForwardClocks(options, resolve, () => res.headersSent);
      const finish = (outcome: ForwardOutcome): void => clocks.finish(outcome);
      const hasBody = requestHasBody(req);
      clocks.startAfterRequest(req, hasBody && !req.complete);

      // A client that takes nothing for the send timeout is cut off (then 'close' below). The
      // clock runs from a write the client's socket or stream could not take until it drains,
      // or until the response's last byte is handed over ('finish'; the socket is then
      // node:http's again, and its keep-alive timeout applies).
      const stopSendClock = (): void => {
        if (sendTimer) clearTimeout(sendTimer);
        sendTimer = undefined;
      };
      const writeToClient = (chunk: Buffer): boolean => {
        const flowing = res.write(chunk);
        if (!flowing && !sendTimer && options.sendTimeoutMs)
          sendTimer = setTimeout(() => cutClient(res), options.sendTimeoutMs);
        return flowing;
      };
      res.once('finish', stopSendClock);
      // A client that goes away aborts the upstream request instead of leaving it running.
      res.once('close', () => {
        stopSendClock();
        if (!res.writableFinished) clocks.stop({ kind: 'client-aborted' }, 'client closed the connection');
      });

      const handler: Dispatcher.DispatchHandler = {
        onConnect: (abort) => clocks.connected(abort),
        onHeaders: (statusCode, rawHeaders, resume, statusText) => {
          if (clocks.settled) return false;
          // undici reports 1xx heads here too: they are not the response, whose head follows.
          if (statusCode < 200) {
            relayInformational(res, statusCode, rawHeaders);
            return true;
          }
          clocks.responseHeadCame();
          res.writeHead(statusCode, statusText, rawWithoutHopByHop(rawHeaders));
          options.onResponseHead?.();
          if (!responseHasBody(req.method ?? 'GET', statusCode)) {
            // The whole response (framing-policy.ts). Ended now: undici would cut a 304
            // whose Content-Length describes the GET it stands for as a length mismatch.
            res.end();
            finish({ kind: 'response', status: statusCode });
            return true;
          }
          // Event streams must reach the client event by event: no buffering of headers.
          res.flushHeaders();
          res.on('drain', () => {
            stopSendClock();
            resume();
          });
          return true;
        },
        onData: (chunk) => (clocks.settled ? false : writeToClient(chunk)),
        onComplete: () => {
          if (clocks.settled) return;
          res.end();
          finish({ kind: 'response', status: res.statusCode });
        },
        onError: (error) => {
          if (clocks.settled) return;
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
