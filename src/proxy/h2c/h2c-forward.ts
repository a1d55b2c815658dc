import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { ForwardOptions, ForwardOutcome } from '../exchange.js';
import { responseHasBody } from '../framing-policy.js';
import type { Target } from '../route-table.js';
import { h2cRequestHeaders, passedOn, trailersOf, type H2cRequestHead } from './headers.js';
import type { ResponseSink } from './response-sink.js';
import type { H2cSessions } from './session-pool.js';

// Forwards one request to an app that speaks HTTP/2 cleartext, on its pooled session:
// the request body and its trailers go up as they arrive, the response head, body and
// trailers come down the same way, with backpressure both ways (a client that does not
// read pauses the app's stream, whose flow-control window then stops the app). The
// proxy's deadlines are those of the HTTP/1.1 forwarders: the response timeout counts
// from the request's end, a client that takes nothing for the send timeout is cut.

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = http2.constants;

export interface H2cRequest extends H2cRequestHead {
  /** The request body, or null when the request has none. */
  body: Readable | null;
  /** The client's trailers, asked for once its body has ended. */
  trailers(): IncomingHttpHeaders | undefined;
}

/** Streams emit 'error' when reset; their 'close' (with its rstCode) is what is acted on. */
function ignore(): void {}

class H2cForward {
  private settled = false;
  private resolve: (outcome: ForwardOutcome) => void = ignore;
  private stream: ClientHttp2Stream | undefined;
  private streamError: Error | undefined;
  private responseTimer: NodeJS.Timeout | undefined;
  private sendTimer: NodeJS.Timeout | undefined;
  private status = 0;
  private upstreamTrailers: IncomingHttpHeaders | undefined;

  constructor(
    private readonly sessions: H2cSessions,
    private readonly target: Target,
    private readonly request: H2cRequest,
    private readonly sink: ResponseSink,
    private readonly options: ForwardOptions,
  ) {}

  run(): Promise<ForwardOutcome> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.sink.onGone(() => this.clientGone());
      void this.open(true);
    });
  }

  /** Opens the stream; a stream refused before the app saw it (GOAWAY, a closing session) is tried once more. */
  private async open(mayRetry: boolean): Promise<void> {
    let session: ClientHttp2Session;
    try {
      session = await this.sessions.get(this.target);
    } catch (error) {
      this.finish({ kind: 'upstream-error', error: error as Error });
      return;
    }
    if (this.settled) return;
    const body = this.request.body;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(h2cRequestHeaders(this.request), {
        endStream: body === null,
        waitForTrailers: body !== null,
      });
    } catch (error) {
      this.sessions.drop(this.target, session);
      if (mayRetry) void this.open(false);
      else this.finish({ kind: 'upstream-error', error: error as Error });
      return;
    }
    this.sessions.track(this.target, session, stream);
    this.stream = stream;
    this.listen(stream, session, mayRetry);
    this.sendBody(stream, body);
  }

  private listen(stream: ClientHttp2Stream, session: ClientHttp2Session, mayRetry: boolean): void {
    stream.on('error', (error: Error) => (this.streamError = error));
    stream.on('headers', (headers) => this.informational(headers));
    stream.once('response', (headers, flags) => this.respond(stream, headers, flags));
    stream.on('trailers', (trailers) => (this.upstreamTrailers = trailers));
    stream.once('close', () => {
      if (this.settled || this.stream !== stream) return;
      const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM && !this.sink.headersSent;
      // Refused streams were never processed: safe to send again when there is no body to replay.
      if (refused && mayRetry && this.request.body === null) {
        this.sessions.drop(this.target, session);
        void this.open(false);
      } else this.upstreamFailed(stream);
    });
  }

  private sendBody(stream: ClientHttp2Stream, body: Readable | null): void {
    if (body === null) {
      this.startResponseClock();
      return;
    }
    stream.once('wantTrailers', () => {
      if (!stream.closed && !stream.destroyed) stream.sendTrailers(trailersOf(this.request.trailers()) ?? {});
    });
    if (body.readableEnded) this.startResponseClock();
    else body.once('end', () => this.startResponseClock());
    body.pipe(stream);
  }

  /** Like nginx's proxy_read_timeout: from the request's end to the response head. */
  private startResponseClock(): void {
    if (this.settled || this.sink.headersSent) return;
    this.responseTimer = setTimeout(() => {
      this.finish({ kind: 'response-timeout' });
      this.stream?.close(NGHTTP2_CANCEL);
    }, this.options.responseTimeoutMs);
  }

  private informational(headers: IncomingHttpHeaders): void {
    const status = Number(headers[':status']);
    if (!this.settled && status >= 100 && status < 200) this.sink.informational(status, passedOn(headers));
  }

  private respond(stream: ClientHttp2Stream, headers: IncomingHttpHeaders, flags: number): void {
    if (this.settled) return;
    clearTimeout(this.responseTimer);
    this.status = Number(headers[':status']);
    this.options.onResponseHead?.();
    // A response with END_STREAM on its head (gRPC's trailers-only answers, a HEAD) is whole.
    const ended = (flags & NGHTTP2_FLAG_END_STREAM) !== 0 || !responseHasBody(this.request.method, this.status);
    this.sink.respond(this.status, passedOn(headers), ended);
    if (ended) {
      this.finish({ kind: 'response', status: this.status });
      stream.resume();
      return;
    }
    stream.on('data', (chunk: Buffer) => this.relay(stream, chunk));
    stream.once('end', () => {
      if (this.settled) return;
      // A reset also ends the readable side: its code is already known by then.
      if (stream.rstCode) {
        this.upstreamFailed(stream);
        return;
      }
      this.sink.end(trailersOf(this.upstreamTrailers));
      this.finish({ kind: 'response', status: this.status });
    });
  }

  private relay(stream: ClientHttp2Stream, chunk: Buffer): void {
    if (this.settled || this.sink.write(chunk) || stream.isPaused()) return;
    stream.pause();
    const sendTimeoutMs = this.options.sendTimeoutMs;
    if (sendTimeoutMs) this.sendTimer = setTimeout(() => this.sink.cut(NGHTTP2_CANCEL), sendTimeoutMs);
    this.sink.onceDrain(() => {
      clearTimeout(this.sendTimer);
      stream.resume();
    });
  }

  /** The app reset the stream or its connection failed: 502 before the head, a cut response after it. */
  private upstreamFailed(stream: ClientHttp2Stream): void {
    if (this.sink.headersSent) {
      this.sink.cut(stream.rstCode || NGHTTP2_INTERNAL_ERROR);
      this.finish({ kind: 'client-aborted' });
      return;
    }
    const error = this.streamError ?? new Error(`the app reset the stream (HTTP/2 error code ${stream.rstCode})`);
    this.finish({ kind: 'upstream-error', error });
  }

  private clientGone(): void {
    if (this.settled) return;
    this.finish({ kind: 'client-aborted' });
    this.stream?.close(NGHTTP2_CANCEL);
  }

  private finish(outcome: ForwardOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.responseTimer);
    if (outcome.kind !== 'response') clearTimeout(this.sendTimer);
    this.resolve(outcome);
  }
}

/** Forwards `request` to `target` over h2c and relays the answer to `sink`. */
export function forwardH2c(
  sessions: H2cSessions,
  target: Target,
  request: H2cRequest,
  sink: ResponseSink,
  options: ForwardOptions,
): Promise<ForwardOutcome> {
  return new H2cForward(sessions, target, request, sink, options).run();
}
