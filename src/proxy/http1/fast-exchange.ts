import type { ClientExchange, ForwardOptions, ForwardOutcome } from '../exchange.js';
import { forwardedValues } from '../forwarded-headers.js';
import { requestIdFrom } from '../request-id.js';
import { resolveOriginForm, type RequestTarget } from '../request-target.js';
import type { ProxyAnswer } from '../responses.js';
import type { Target } from '../route-table.js';
import { ChunkedBodyScanner } from './chunked-body.js';
import type { RequestHead } from './request-head.js';
import { copyBytes, copyForwardable, forwardableText, type Framing, type ResponseHead } from './response-head.js';
import { ResponseHeadReader } from './response-head-reader.js';
import type { UpstreamConnection, UpstreamPool, UpstreamUser } from './upstream-pool.js';

// One request of a fast-path connection, from its parsed head to the end of its response:
// it writes the request to a pooled upstream connection, relays the request body that the
// client connection hands it, parses the response head, and relays the response body
// byte for byte until its framing says it ended, with backpressure both ways.

/** What a fast exchange needs from its client connection. */
export interface ClientConnection {
  readonly remoteAddress: string | undefined;
  /** Arrived over TLS (the HTTPS listener): X-Forwarded-Proto says https. */
  readonly encrypted: boolean;
  /** The proxy is shutting down: the connection closes after this exchange. */
  readonly closing: boolean;
  /** Writes response bytes; false when the client is not keeping up (resume with onClientDrain). */
  write(data: Buffer | string): boolean;
  /** Writes one of the proxy's own answers to a request with `method` (HEAD gets no body). */
  writeAnswer(value: ProxyAnswer, method: string): void;
  /** Passes the request body, as it arrives, to this exchange's writeBody() and endBody(). */
  streamBodyTo(exchange: FastExchange): void;
  /** Stops reading the client until resumeBody(): the target is not keeping up with the upload. */
  pauseBody(): void;
  resumeBody(): void;
  /** The connection closes once this exchange ends. */
  closeAfterExchange(): void;
  /** Calls this exchange's responseTimedOut() in `ms` unless stopResponseTimeout() comes first. */
  startResponseTimeout(ms: number): void;
  stopResponseTimeout(): void;
  /** Cuts the connection now (a response that cannot be completed). */
  destroy(): void;
}

export const FAST_EXCHANGE_LIMITS = {
  /** A longer response head is a bad gateway. */
  maxResponseHeadBytes: 64 * 1024,
} as const;

const CLOSE_LINE = Buffer.from('connection: close\r\n', 'latin1');
const CRLF_LENGTH = 2;

/** Methods that may be sent again on a new connection when a kept one turned out dead. */
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

type Phase = 'routing' | 'head' | 'body' | 'settled';

export class FastExchange implements ClientExchange, UpstreamUser {
  readonly via = 'fast';
  readonly requestId: string;
  responseStarted = false;
  private phase: Phase = 'routing';
  private upstream: UpstreamConnection | undefined;
  private target: Target | undefined;
  private options: ForwardOptions | undefined;
  private settle: ((outcome: ForwardOutcome) => void) | undefined;
  private requestSent = false;
  private retried = false;
  /** Bytes of a response head that arrived in pieces. */
  private readonly heads = new ResponseHeadReader(FAST_EXCHANGE_LIMITS.maxResponseHeadBytes);
  private status = 0;
  private framing: Framing | undefined;
  private remaining = 0;
  private chunked: ChunkedBodyScanner | undefined;
  private upstreamReusable = false;
  private keepAliveSeconds: number | undefined;
  private upstreamPaused = false;
  private goneListeners: (() => void)[] | undefined;
  private clientIsGone = false;

  constructor(
    private readonly client: ClientConnection,
    readonly head: RequestHead,
    private readonly pool: UpstreamPool,
  ) {
    this.requestId = requestIdFrom(head.priorRequestId);
  }

  get encrypted(): boolean {
    return this.client.encrypted;
  }

  get method(): string {
    return this.head.method;
  }

  get url(): string {
    return this.head.target;
  }

  resolveTarget(): RequestTarget {
    // The fast path takes only origin-form targets and exactly one Host (anything else is
    // handed to node:http), but the Host value itself is checked here like anywhere else.
    return resolveOriginForm(this.url, this.hostHeader);
  }

  get hostHeader(): string {
    return this.head.host;
  }

  get hasBody(): boolean {
    return this.head.contentLength > 0;
  }

  answer(value: ProxyAnswer): void {
    if (this.responseStarted) this.client.destroy();
    else this.client.writeAnswer(value, this.head.method);
  }

  onClientGone(listener: () => void): () => void {
    (this.goneListeners ??= []).push(listener);
    return () => {
      const index = this.goneListeners?.indexOf(listener) ?? -1;
      if (index >= 0) this.goneListeners?.splice(index, 1);
    };
  }

  /** The client closed the connection: whatever is under way for it stops. */
  clientGone(): void {
    this.clientIsGone = true;
    for (const listener of this.goneListeners?.splice(0) ?? []) listener();
    if (this.phase === 'head' || this.phase === 'body') {
      this.upstream?.discard();
      this.upstream = undefined;
      this.finish({ kind: 'client-aborted' });
    }
  }

  forward(target: Target, options: ForwardOptions): Promise<ForwardOutcome> {
    if (this.clientIsGone) return Promise.resolve({ kind: 'client-aborted' });
    // A second forward follows a target that refused the connection: nothing was received.
    this.requestSent = false;
    this.heads.reset();
    return new Promise((resolve) => {
      this.settle = resolve;
      this.target = target;
      this.options = options;
      this.phase = 'head';
      options.deadline?.whenExpired(() => this.deadlinePassed());
      this.send(this.pool.acquire(target, this));
    });
  }

  /** The request's whole deadline passed: the upstream connection goes; the routing answers 504 or cuts the client. */
  private deadlinePassed(): void {
    if (this.phase !== 'head' && this.phase !== 'body') return;
    this.upstream?.discard();
    this.upstream = undefined;
    this.finish({ kind: 'request-timeout' });
  }

  // ---------- the request ----------

  private send(upstream: UpstreamConnection): void {
    this.upstream = upstream;
    const options = this.options as ForwardOptions;
    const forwarded = forwardedValues({
      clientAddress: this.client.remoteAddress,
      encrypted: this.client.encrypted,
      host: this.head.host,
      priorFor: this.head.priorFor,
      priorProto: this.head.priorProto,
      priorHost: this.head.priorHost,
      trustForwardedHeaders: options.trustForwardedHeaders,
    });
    upstream.socket.write(
      `${this.head.forwardable}x-forwarded-for: ${forwarded.for}\r\nx-forwarded-proto: ${forwarded.proto}\r\n${forwarded.host ? `x-forwarded-host: ${forwarded.host}\r\n` : ''}x-request-id: ${this.requestId}\r\n\r\n`,
      'latin1',
    );
    if (this.head.contentLength > 0) this.client.streamBodyTo(this);
    else this.requestComplete();
  }

  /** Request body bytes from the client; false asks the client connection to pause. */
  writeBody(chunk: Buffer): boolean {
    if (this.phase === 'settled' || !this.upstream) return true;
    return this.upstream.socket.write(chunk);
  }

  /** The whole request body has been handed over. */
  endBody(): void {
    if (this.phase !== 'settled') this.requestComplete();
  }

  private requestComplete(): void {
    this.requestSent = true;
    // Like nginx's proxy_read_timeout, the clock starts once the whole request is sent:
    // a slow upload is not a slow response.
    if (this.phase === 'head') this.client.startResponseTimeout((this.options as ForwardOptions).responseTimeoutMs);
  }

  /** No response head within the response timeout. */
  responseTimedOut(): void {
    if (this.phase !== 'head') return;
    this.upstream?.discard();
    this.upstream = undefined;
    this.finish({ kind: 'response-timeout' });
  }

  onUpstreamDrain(): void {
    this.client.resumeBody();
  }

  // ---------- the response ----------

  onUpstreamData(chunk: Buffer): void {
    // `chunk` is the upstream pool's read buffer: nothing may keep it past this call.
    if (this.phase === 'body') this.relay(chunk, 0);
    else if (this.phase === 'head') this.readHead(chunk);
  }

  private readHead(chunk: Buffer): void {
    const read = this.heads.read(chunk, this.head.method, this.passInformational);
    if (read.kind === 'incomplete') return;
    if (read.kind === 'invalid') {
      this.fail(new Error(`invalid response: ${read.reason}`));
      return;
    }
    const { head, buffer, bodyStart } = read;
    this.client.stopResponseTimeout();
    this.status = head.status;
    this.framing = head.framing;
    this.upstreamReusable = head.reusable;
    this.keepAliveSeconds = head.keepAliveSeconds;
    // A response that ends before the request body was all read leaves the client
    // connection in the middle of a message: it is closed after this response.
    const closeClient = this.client.closing || this.head.close || head.framing.kind === 'close' || !this.requestSent;
    if (closeClient) this.client.closeAfterExchange();
    this.responseStarted = true;
    this.phase = 'body';
    if (head.framing.kind === 'length') this.remaining = head.framing.length;
    else if (head.framing.kind === 'chunked') this.chunked = new ChunkedBodyScanner();
    this.relay(buffer, bodyStart, { head, closeClient });
    (this.options as ForwardOptions).onResponseHead?.();
  }

  /** 1xx (103 Early Hints...): passed on; the final head follows. */
  private readonly passInformational = (head: ResponseHead, buffer: Buffer): void => {
    this.responseStarted = true;
    this.client.write(`${forwardableText(head, buffer)}\r\n`);
  };

  /**
   * Relays body bytes from `offset`, after the response head when it is still to be
   * written (in one write). What is written is a copy: `chunk` may be the read buffer.
   */
  private relay(chunk: Buffer, offset: number, first?: { head: ResponseHead; closeClient: boolean }): void {
    const framing = this.framing as Framing;
    let bodyEnd = chunk.length;
    let ended = false;
    switch (framing.kind) {
      case 'none':
        bodyEnd = offset;
        ended = true;
        break;
      case 'length': {
        const take = Math.min(this.remaining, chunk.length - offset);
        this.remaining -= take;
        bodyEnd = offset + take;
        ended = this.remaining === 0;
        break;
      }
      case 'chunked': {
        const scanner = this.chunked as ChunkedBodyScanner;
        const take = scanner.scan(chunk, offset);
        if (take < 0) {
          // The head has gone out: the client can only be cut off.
          if (first) this.fail(new Error('invalid chunked framing in the response'));
          else this.breakOff(new Error('invalid chunked framing in the response'));
          return;
        }
        bodyEnd = offset + take;
        ended = scanner.done;
        break;
      }
      case 'close':
        break;
    }
    // Bytes after the end of the response were not asked for: the connection is not reused.
    if (ended && bodyEnd < chunk.length) this.upstreamReusable = false;

    let flowing = true;
    const bodyLength = bodyEnd - offset;
    if (first) {
      const { head, closeClient } = first;
      const out = Buffer.allocUnsafe(
        head.forwardableLength + (closeClient ? CLOSE_LINE.length : 0) + CRLF_LENGTH + bodyLength,
      );
      let at = copyForwardable(head, chunk, out, 0);
      if (closeClient) at = copyBytes(CLOSE_LINE, 0, CLOSE_LINE.length, out, at);
      out[at++] = 13;
      out[at++] = 10;
      copyBytes(chunk, offset, bodyEnd, out, at);
      flowing = this.client.write(out);
    } else if (bodyLength > 0) {
      const out = Buffer.allocUnsafe(bodyLength);
      copyBytes(chunk, offset, bodyEnd, out, 0);
      flowing = this.client.write(out);
    }

    if (ended) this.complete();
    else if (!flowing && this.upstream && !this.upstreamPaused) {
      this.upstreamPaused = true;
      this.upstream.socket.pause();
    }
  }

  /** The client connection drained: the response may flow again. */
  onClientDrain(): void {
    if (this.upstreamPaused && this.upstream) {
      this.upstreamPaused = false;
      this.upstream.socket.resume();
    }
  }

  onUpstreamEnd(): void {
    if (this.phase === 'body' && this.framing?.kind === 'close') this.complete();
    else this.onUpstreamClose(new Error('the target closed the connection'));
  }

  onUpstreamClose(error: Error | undefined): void {
    if (this.phase !== 'head' && this.phase !== 'body') return;
    const upstream = this.upstream;
    this.upstream = undefined;
    // Detached first: its own 'close' must not reach this exchange a second time.
    upstream?.discard();
    if (this.phase === 'body') {
      if (this.framing?.kind === 'close') this.complete();
      else this.breakOff(error ?? new Error('the target closed the connection mid-response'));
      return;
    }
    // A kept connection the target closed just as it was reused: the request did not
    // reach the app, so one new connection is tried for requests that are safe to repeat.
    if (
      upstream &&
      (upstream.served > 0 || upstream.warmed) &&
      !this.retried &&
      !this.responseStarted &&
      !this.heads.pending &&
      this.head.contentLength === 0 &&
      RETRYABLE_METHODS.has(this.head.method)
    ) {
      this.retried = true;
      this.client.stopResponseTimeout();
      this.send(this.pool.connect(this.target as Target, this));
      return;
    }
    this.fail(error ?? new Error('the target closed the connection before answering'));
  }

  private complete(): void {
    const upstream = this.upstream;
    this.upstream = undefined;
    if (upstream) {
      if (this.upstreamPaused) upstream.socket.resume();
      if (this.upstreamReusable && this.requestSent) this.pool.release(upstream, this.keepAliveSeconds);
      else upstream.discard();
    }
    this.finish({ kind: 'response', status: this.status });
  }

  /** Failed before the response started: the routing answers (502) or retries elsewhere. */
  private fail(error: Error): void {
    this.upstream?.discard();
    this.upstream = undefined;
    this.finish({ kind: 'upstream-error', error });
  }

  /** Failed after the response started: the client connection is cut. */
  private breakOff(error: Error): void {
    this.upstream?.discard();
    this.upstream = undefined;
    this.client.destroy();
    this.finish({ kind: 'upstream-error', error });
  }

  private finish(outcome: ForwardOutcome): void {
    if (this.phase === 'settled') return;
    this.phase = 'settled';
    this.client.stopResponseTimeout();
    this.options?.deadline?.whenExpired(undefined);
    this.heads.reset();
    const settle = this.settle;
    this.settle = undefined;
    settle?.(outcome);
  }
}
