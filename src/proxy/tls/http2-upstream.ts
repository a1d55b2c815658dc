import http2, { type ServerHttp2Stream } from 'node:http2';
import type { ForwardOptions, ForwardOutcome } from '../exchange.js';
import { ChunkedBodyScanner } from '../http1/chunked-body.js';
import { FAST_EXCHANGE_LIMITS } from '../http1/fast-exchange.js';
import { ResponseHeadReader } from '../http1/response-head-reader.js';
import type { Framing, ResponseHead } from '../http1/response-head.js';
import type { UpstreamConnection, UpstreamPool, UpstreamUser } from '../http1/upstream-pool.js';
import type { Target } from '../route-table.js';
import { http2ResponseHeaders } from './http1-translation.js';

// One HTTP/2 stream forwarded over the fast path's pooled HTTP/1.1 connections, with the
// pool's read buffer and response-head parser: undici was the largest cost of the HTTP/2
// path (docs/benchmarks.md). The response goes to the stream as HTTP/2: its head through
// stream.respond(), its body without HTTP/1.1 framing (a chunked body is decoded).
// The edge-safety rules are the fast path's and forwarder.ts's: the response timeout
// counted from the request's end, a kept connection that died under a request retried
// once for a safe method, the upstream connection reused only when the response ended as
// framed, a client that takes nothing for the send timeout cut with CANCEL (the clock
// runs on past the upstream's end, while the last bytes wait for the client).

const { NGHTTP2_CANCEL } = http2.constants;

/** Methods that may be sent again on a new connection when a kept one turned out dead. */
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LAST_CHUNK = '0\r\n\r\n';

export interface Http2UpstreamRequest {
  readonly method: string;
  /** The HTTP/1.1 request head, blank line included (http1RequestHead()). */
  readonly head: string;
  /** The stream whose body is sent after the head, or null when it has none. */
  readonly body: ServerHttp2Stream | null;
  /** The body's length is unknown: it is sent with chunked framing. */
  readonly chunked: boolean;
}

type Phase = 'head' | 'body' | 'settled';

export class Http2UpstreamForward implements UpstreamUser {
  private phase: Phase = 'head';
  private upstream: UpstreamConnection | undefined;
  private settle: ((outcome: ForwardOutcome) => void) | undefined;
  private requestSent = false;
  private retried = false;
  private bodyPaused = false;
  private readonly heads = new ResponseHeadReader(FAST_EXCHANGE_LIMITS.maxResponseHeadBytes);
  private status = 0;
  private framing: Framing | undefined;
  private remaining = 0;
  private chunked: ChunkedBodyScanner | undefined;
  private reusable = false;
  private keepAliveSeconds: number | undefined;
  private upstreamPaused = false;
  private responseTimer: NodeJS.Timeout | undefined;
  private sendTimer: NodeJS.Timeout | undefined;
  private awaitingDrain = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly request: Http2UpstreamRequest,
    private readonly target: Target,
    private readonly pool: UpstreamPool,
    private readonly options: ForwardOptions,
  ) {}

  run(): Promise<ForwardOutcome> {
    return new Promise((resolve) => {
      this.settle = resolve;
      this.options.deadline?.whenExpired(() => this.stop({ kind: 'request-timeout' }));
      this.stream.once('close', () => {
        clearTimeout(this.sendTimer);
        this.stop({ kind: 'client-aborted' });
      });
      this.send(this.pool.acquire(this.target, this));
    });
  }

  // ---------- the request ----------

  private send(upstream: UpstreamConnection): void {
    this.upstream = upstream;
    upstream.socket.write(this.request.head, 'latin1');
    const body = this.request.body;
    if (body) this.sendBody(body);
    else this.requestComplete();
  }

  private sendBody(body: ServerHttp2Stream): void {
    body.on('data', (chunk: Buffer) => {
      const socket = this.upstream?.socket;
      if (this.phase === 'settled' || !socket) return;
      let flowing: boolean;
      if (this.request.chunked) {
        // One write per chunk: Nagle is off, three writes would be three packets.
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        flowing = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else flowing = socket.write(chunk);
      if (!flowing) {
        this.bodyPaused = true;
        body.pause();
      }
    });
    body.once('end', () => {
      if (this.phase === 'settled' || !this.upstream) return;
      if (this.request.chunked) this.upstream.socket.write(LAST_CHUNK, 'latin1');
      this.requestComplete();
    });
  }

  private requestComplete(): void {
    this.requestSent = true;
    // Like nginx's proxy_read_timeout, the clock starts once the client has sent the whole request.
    if (this.phase === 'head' && !this.responseTimer)
      this.responseTimer = setTimeout(() => this.stop({ kind: 'response-timeout' }), this.options.responseTimeoutMs);
  }

  onUpstreamDrain(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    this.request.body?.resume();
  }

  // ---------- the response ----------

  onUpstreamData(chunk: Buffer): void {
    // `chunk` is the upstream pool's read buffer: nothing may keep it past this call.
    if (this.phase === 'body') this.relay(chunk, 0);
    else if (this.phase === 'head') this.readHead(chunk);
  }

  private readHead(chunk: Buffer): void {
    const read = this.heads.read(chunk, this.request.method, this.passInformational);
    if (read.kind === 'invalid') this.fail(new Error(`invalid response: ${read.reason}`));
    else if (read.kind === 'final') this.respond(read.head, read.buffer, read.bodyStart);
  }

  private readonly passInformational = (head: ResponseHead, buffer: Buffer): void => {
    if (head.status === 103) this.relayEarlyHints(head, buffer);
  };

  /** Passes a 103 Early Hints head on; other informational heads are dropped, as on node:http. */
  private relayEarlyHints(head: ResponseHead, buffer: Buffer): void {
    const headers = http2ResponseHeaders(head, buffer);
    if (headers.link === undefined || this.stream.headersSent) return;
    try {
      this.stream.additionalHeaders(headers);
    } catch {
      // A hint node:http2 will not write: dropped, the response goes on.
    }
  }

  /** The final head, then whatever of the body came with it (buffer from `bodyStart`). */
  private respond(head: ResponseHead, buffer: Buffer, bodyStart: number): void {
    clearTimeout(this.responseTimer);
    this.status = head.status;
    this.framing = head.framing;
    this.reusable = head.reusable;
    this.keepAliveSeconds = head.keepAliveSeconds;
    const ended = head.framing.kind === 'none';
    try {
      this.stream.respond(http2ResponseHeaders(head, buffer), { endStream: ended });
    } catch (error) {
      // A head node:http2 refuses (a single-value header sent twice): a bad gateway.
      this.fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.options.onResponseHead?.();
    if (ended) {
      if (bodyStart < buffer.length) this.reusable = false;
      this.complete(false);
      return;
    }
    this.phase = 'body';
    if (head.framing.kind === 'length') this.remaining = head.framing.length;
    else if (head.framing.kind === 'chunked') this.chunked = new ChunkedBodyScanner();
    this.relay(buffer, bodyStart);
  }

  /** Relays body bytes from `offset` without their HTTP/1.1 framing; each written is a copy. */
  private relay(chunk: Buffer, offset: number): void {
    const framing = this.framing as Framing;
    let flowing = true;
    let bodyEnd = chunk.length;
    let ended = false;
    if (framing.kind === 'length') {
      const take = Math.min(this.remaining, chunk.length - offset);
      this.remaining -= take;
      bodyEnd = offset + take;
      ended = this.remaining === 0;
      if (take > 0) flowing = this.write(chunk, offset, bodyEnd);
    } else if (framing.kind === 'chunked') {
      const scanner = this.chunked as ChunkedBodyScanner;
      const take = scanner.scan(chunk, offset, (from, to) => {
        if (!this.write(chunk, from, to)) flowing = false;
      });
      if (take < 0) {
        this.breakOff(new Error('invalid chunked framing in the response'));
        return;
      }
      bodyEnd = offset + take;
      ended = scanner.done;
    } else if (offset < chunk.length) flowing = this.write(chunk, offset, chunk.length);
    // Bytes after the end of the response were not asked for: the connection is not reused.
    if (ended && bodyEnd < chunk.length) this.reusable = false;
    if (ended) this.complete(true);
    else if (!flowing && this.upstream && !this.upstreamPaused) {
      this.upstreamPaused = true;
      this.upstream.socket.pause();
    }
  }

  /** Writes a copy of chunk[from, to) to the stream; false when the client is not keeping up. */
  private write(chunk: Buffer, from: number, to: number): boolean {
    if (this.stream.destroyed) return false;
    const flowing = this.stream.write(Buffer.from(chunk.subarray(from, to)));
    if (!flowing && !this.awaitingDrain) {
      this.awaitingDrain = true;
      this.stream.once('drain', () => this.clientDrained());
      const sendTimeoutMs = this.options.sendTimeoutMs;
      // A client that takes nothing for the send timeout is reset with CANCEL.
      if (sendTimeoutMs) this.sendTimer = setTimeout(() => this.stream.close(NGHTTP2_CANCEL), sendTimeoutMs);
    }
    return flowing;
  }

  private clientDrained(): void {
    this.awaitingDrain = false;
    clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    if (this.upstreamPaused && this.upstream) {
      this.upstreamPaused = false;
      this.upstream.socket.resume();
    }
  }

  onUpstreamEnd(): void {
    if (this.phase === 'body' && this.framing?.kind === 'close') this.complete(true);
    else this.onUpstreamClose(new Error('the target closed the connection'));
  }

  onUpstreamClose(error: Error | undefined): void {
    if (this.phase === 'settled') return;
    const upstream = this.upstream;
    this.upstream = undefined;
    // Detached first: its own 'close' must not reach this forward a second time.
    upstream?.discard();
    if (this.phase === 'body') {
      if (this.framing?.kind === 'close') this.complete(true);
      else this.breakOff(error ?? new Error('the target closed the connection mid-response'));
      return;
    }
    // A kept connection the target closed just as it was reused: the request did not
    // reach the app, so one new connection is tried for requests that are safe to repeat.
    if (
      upstream &&
      (upstream.served > 0 || upstream.warmed) &&
      !this.retried &&
      !this.heads.pending &&
      !this.request.body &&
      RETRYABLE_METHODS.has(this.request.method)
    ) {
      this.retried = true;
      this.send(this.pool.connect(this.target, this));
      return;
    }
    this.fail(error ?? new Error('the target closed the connection before answering'));
  }

  // ---------- the end ----------

  private complete(endStream: boolean): void {
    const upstream = this.upstream;
    this.upstream = undefined;
    if (upstream) {
      if (this.upstreamPaused) upstream.socket.resume();
      if (this.reusable && this.requestSent) this.pool.release(upstream, this.keepAliveSeconds);
      else upstream.discard();
    }
    if (endStream && !this.stream.destroyed) this.stream.end();
    this.finish({ kind: 'response', status: this.status });
  }

  /** Failed before the response started: the routing answers (502) or retries elsewhere. */
  private fail(error: Error): void {
    this.stop({ kind: 'upstream-error', error });
  }

  /** Failed after the response started: the stream is reset. */
  private breakOff(error: Error): void {
    this.stop({ kind: 'upstream-error', error });
    if (!this.stream.closed) this.stream.close(NGHTTP2_CANCEL);
  }

  /** Ends the forward with `outcome`: the upstream connection, mid-exchange, is closed. */
  private stop(outcome: ForwardOutcome): void {
    if (this.phase === 'settled') return;
    this.upstream?.discard();
    this.upstream = undefined;
    this.finish(outcome);
  }

  private finish(outcome: ForwardOutcome): void {
    if (this.phase === 'settled') return;
    this.phase = 'settled';
    clearTimeout(this.responseTimer);
    this.options.deadline?.whenExpired(undefined);
    this.heads.reset();
    // A body no longer sent anywhere is read on and dropped, rather than left to stall its stream.
    if (this.bodyPaused) this.request.body?.resume();
    const settle = this.settle;
    this.settle = undefined;
    settle?.(outcome);
  }
}
