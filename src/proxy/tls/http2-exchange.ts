import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { BodyProgress } from '../body-progress.js';
import type { ClientExchange, ForwardOptions, ForwardOutcome } from '../exchange.js';
import { ForwardClocks } from '../forward-clocks.js';
import { forwardedValues, spellsAProxyHeader } from '../forwarded-headers.js';
import { responseHasBody, statusAllowsContentLength } from '../framing-policy.js';
import { connectionNamed, HOP_BY_HOP, rawWithoutHopByHop } from '../hop-by-hop.js';
import { REQUEST_ID_HEADER, requestIdFrom } from '../request-id.js';
import { resolveOriginForm, resolveRequestTarget, type RequestTarget } from '../request-target.js';
import { ANSWER_HEADERS, type ProxyAnswer } from '../responses.js';
import type { Target } from '../route-table.js';
import { forwardH2c, type H2cRequest } from '../h2c/h2c-forward.js';
import { Http2StreamSink } from '../h2c/response-sink.js';

// One HTTP/2 stream, served straight from node:http2's 'stream' event. Node's
// compatibility API (Http2ServerRequest/Response) cost a request and a response object,
// a copy of the headers into HTTP/1.1 form, a header object per writeHead and a dozen
// listeners per stream, about a third of the proxy's time under h2load (profile in
// docs/benchmarks.md). Here the stream's own headers are read once, into the upstream
// request's headers, and the upstream's answer goes to stream.respond() in one object.
// Forwarded over undici like node:http's requests; the edge-safety rules are those of
// forwarder.ts: X-Forwarded-* set by the proxy only, the response timeout counted from
// the request's end, a client that takes nothing for the send timeout cut with CANCEL.

const { NGHTTP2_CANCEL } = http2.constants;

/** Streams emit 'error' when the client resets them; the 'close' that follows is what counts. */
function ignore(): void {}

export class Http2Exchange implements ClientExchange {
  readonly via = 'node';
  readonly encrypted = true;
  readonly method: string;
  url: string;
  readonly hostHeader: string | undefined;
  readonly requestId: string;
  readonly hasBody: boolean;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly dispatcher: Dispatcher,
  ) {
    stream.on('error', ignore);
    this.method = headers[':method'] ?? 'GET';
    this.url = headers[':path'] ?? '/';
    // As RFC 9113 §8.3.1 asks, a Host header wins over :authority when both are sent.
    this.hostHeader = headers.host ?? headers[':authority'];
    const given = headers[REQUEST_ID_HEADER];
    this.requestId = requestIdFrom(typeof given === 'string' ? given : undefined);
    const length = headers['content-length'];
    this.hasBody = length === undefined ? !stream.endAfterHeaders : length !== '0';
  }

  get responseStarted(): boolean {
    return this.stream.headersSent;
  }

  resolveTarget(): RequestTarget {
    const host = this.hostHeader;
    if (host !== undefined && this.url.startsWith('/')) return resolveOriginForm(this.url, host);
    const target = resolveRequestTarget({ url: this.url, rawHeaders: host === undefined ? [] : ['host', host] });
    // An absolute-form :path is sent to the app as an origin-form path, as on HTTP/1.1.
    if (target.ok && target.absolute) this.url = target.path;
    return target;
  }

  answer(value: ProxyAnswer): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    if (stream.headersSent) {
      stream.close(NGHTTP2_CANCEL);
      return;
    }
    // Connection: close has no meaning on a stream (and node:http2 refuses it).
    const headers: OutgoingHttpHeaders = { ':status': value.status, ...ANSWER_HEADERS, ...value.headers };
    if (statusAllowsContentLength(value.status)) headers['content-length'] = Buffer.byteLength(value.body);
    if (responseHasBody(this.method, value.status)) {
      stream.respond(headers);
      stream.end(value.body);
    } else stream.respond(headers, { endStream: true });
  }

  onClientGone(listener: () => void): () => void {
    this.stream.once('close', listener);
    return () => this.stream.off('close', listener);
  }

  /** The request's body progress for the body timeout; undefined when it has none. */
  bodyProgress(): BodyProgress | undefined {
    const stream = this.stream;
    if (!this.hasBody || stream.readableEnded) return undefined;
    let received = 0;
    // Counted where the stream takes its DATA frames in: a 'data' listener would switch the
    // stream to flowing before anyone forwards the body.
    const push = stream.push.bind(stream);
    stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk instanceof Buffer) received += chunk.length;
      return push(chunk, encoding);
    };
    return {
      received: () => received,
      reading: () => stream.readableFlowing === true,
      finished: () => stream.readableEnded || stream.destroyed,
      cut: () => stream.close(NGHTTP2_CANCEL),
    };
  }

  /** The headers the app receives: the client's, less pseudo-headers and hop-by-hop ones, and the proxy's own. */
  private upstreamHeaders(options: ForwardOptions): Record<string, string | string[]> {
    const source = this.headers;
    const named = connectionNamed(source.connection);
    const headers: Record<string, string | string[]> = {};
    for (const name in source) {
      const value = source[name];
      if (value === undefined || name.charCodeAt(0) === 58 /* : */) continue;
      if (HOP_BY_HOP.has(name) || named.has(name) || name === 'expect' || spellsAProxyHeader(name)) continue;
      headers[name] = value;
    }
    const host = this.hostHeader;
    if (host !== undefined) headers.host = host;
    const forwarded = forwardedValues({
      clientAddress: this.stream.session?.socket.remoteAddress,
      encrypted: true,
      host,
      priorFor: single(source['x-forwarded-for']),
      priorProto: single(source['x-forwarded-proto']),
      priorHost: single(source['x-forwarded-host']),
      trustForwardedHeaders: options.trustForwardedHeaders,
    });
    headers['x-forwarded-for'] = forwarded.for;
    headers['x-forwarded-proto'] = forwarded.proto;
    if (forwarded.host) headers['x-forwarded-host'] = forwarded.host;
    headers[REQUEST_ID_HEADER] = this.requestId;
    return headers;
  }

  forward(target: Target, options: ForwardOptions): Promise<ForwardOutcome> {
    if (options.h2c)
      return forwardH2c(options.h2c, target, this.h2cRequest(options), new Http2StreamSink(this.stream), options);
    return this.forwardHttp1(target, options);
  }

  /** The request as an h2c app gets it: HTTP/2 end to end, the client's trailers included. */
  private h2cRequest(options: ForwardOptions): H2cRequest {
    let trailers: IncomingHttpHeaders | undefined;
    // A trailer block arrives with the stream's end, before 'end' is read.
    if (this.hasBody) this.stream.once('trailers', (received: IncomingHttpHeaders) => (trailers = received));
    return {
      method: this.method,
      path: this.url,
      authority: this.hostHeader,
      headers: this.upstreamHeaders(options),
      te: this.headers.te,
      body: this.hasBody ? this.stream : null,
      trailers: () => trailers,
    };
  }

  private forwardHttp1(target: Target, options: ForwardOptions): Promise<ForwardOutcome> {
    return new Promise((resolve) => {
      const stream = this.stream;
      let sendTimer: NodeJS.Timeout | undefined;
      let resumeUpstream: (() => void) | undefined;
      const clocks = new ForwardClocks(options, resolve, () => stream.headersSent);
      const finish = (outcome: ForwardOutcome): void => clocks.finish(outcome);
      clocks.startAfterRequest(stream, this.hasBody && !stream.readableEnded);
      // The send clock runs on past the upstream's end, while the last bytes wait for the client.
      stream.once('close', () => {
        clearTimeout(sendTimer);
        if (!clocks.settled) clocks.stop({ kind: 'client-aborted' }, 'client closed the stream');
      });

      const handler: Dispatcher.DispatchHandler = {
        onConnect: (abort) => clocks.connected(abort),
        onHeaders: (statusCode, rawHeaders, resume) => {
          if (clocks.settled || stream.destroyed) return false;
          if (statusCode < 200) {
            relayEarlyHints(stream, statusCode, rawHeaders);
            return true;
          }
          clocks.responseHeadCame();
          const headers = responseHeaders(statusCode, rawHeaders);
          options.onResponseHead?.();
          if (!responseHasBody(this.method, statusCode)) {
            stream.respond(headers, { endStream: true });
            finish({ kind: 'response', status: statusCode });
            return true;
          }
          stream.respond(headers);
          resumeUpstream = resume;
          return true;
        },
        onData: (chunk) => {
          if (clocks.settled) return false;
          const flowing = stream.write(chunk);
          if (!flowing) {
            stream.once('drain', () => {
              clearTimeout(sendTimer);
              sendTimer = undefined;
              resumeUpstream?.();
            });
            // A client that takes nothing for the send timeout is reset with CANCEL.
            if (!sendTimer && options.sendTimeoutMs)
              sendTimer = setTimeout(() => stream.close(NGHTTP2_CANCEL), options.sendTimeoutMs);
          }
          return flowing;
        },
        onComplete: () => {
          if (clocks.settled) return;
          stream.end();
          finish({ kind: 'response', status: Number(stream.sentHeaders[':status'] ?? 200) });
        },
        onError: (error) => {
          if (clocks.settled) return;
          if (stream.headersSent) {
            stream.close(NGHTTP2_CANCEL);
            finish({ kind: 'client-aborted' });
            return;
          }
          finish({ kind: 'upstream-error', error });
        },
      };

      this.dispatcher.dispatch(
        {
          origin: `http://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`,
          path: this.url,
          method: this.method as Dispatcher.HttpMethod,
          headers: this.upstreamHeaders(options),
          // Through a PassThrough: undici destroys a body it has sent, and destroying the
          // stream itself would reset it before its response.
          body: this.hasBody ? stream.pipe(new PassThrough()) : null,
          // The proxy's own response timeout applies; undici's would count from the request start.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        handler,
      );
    });
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The upstream's head as HTTP/2 headers: names lower-cased, repeated ones as arrays, no hop-by-hop ones. */
function responseHeaders(statusCode: number, rawHeaders: readonly (string | Buffer)[]): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ':status': statusCode };
  const flat = rawWithoutHopByHop(rawHeaders);
  for (let index = 0; index + 1 < flat.length; index += 2) {
    const name = (flat[index] as string).toLowerCase();
    const value = flat[index + 1] as string;
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[name] = [String(previous), value];
  }
  return headers;
}

/** Passes a 103 Early Hints head on; other informational heads are dropped, as on node:http. */
function relayEarlyHints(
  stream: ServerHttp2Stream,
  statusCode: number,
  rawHeaders: readonly (string | Buffer)[],
): void {
  if (statusCode !== 103 || stream.headersSent) return;
  const headers = responseHeaders(statusCode, rawHeaders);
  if (headers.link === undefined) return;
  try {
    stream.additionalHeaders(headers);
  } catch {
    // A hint node:http2 will not write: dropped, the response goes on.
  }
}
