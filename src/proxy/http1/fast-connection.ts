import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ClientExchange } from '../exchange.js';
import { serializeAnswer, type ProxyAnswer } from '../responses.js';
import { Deadline, type Deadlines } from './deadlines.js';
import { FastExchange, type ClientConnection } from './fast-exchange.js';
import { parseRequestHead, type RequestHead } from './request-head.js';
import type { UpstreamPool } from './upstream-pool.js';

// A client connection on the fast path: HTTP/1.1 read straight off the socket, a TCP one
// or the TLS socket of an HTTPS connection that chose HTTP/1.1 (either is a duplex stream). It
// parses each request head strictly, frames the request body by its Content-Length,
// serves requests one after the other (pipelined ones wait their turn), and keeps the
// connection alive between them. The first head that is not plain and complete (see
// request-head.ts) hands the connection, with the bytes not yet used, to node:http for
// good: a head split across reads, chunked uploads, upgrades, anything odd.

export interface FastPathHost {
  /** The proxy is shutting down: connections close after their current exchange. */
  isClosing(): boolean;
  /** Routes and answers one request (the same code as for node:http's requests). */
  serve(exchange: ClientExchange): Promise<void>;
  /** Gives the connection to node:http, with the bytes received and not yet used. */
  handOff(socket: Socket, received: Buffer | undefined): void;
  connectionClosed(connection: FastConnection): void;
  /** A request this path leaves to node:http although it could parse it (a service it does not forward to). */
  prefersNode?(head: RequestHead): boolean;
}

export interface FastConnectionOptions {
  maxHeadBytes: number;
  /** An idle connection (no request under way) is closed after this long without a byte. */
  keepAliveTimeoutMs: number;
  /**
   * A new connection that sends no request within this long is closed (the head timeout):
   * node:http's headersTimeout also counts from a connection's start, so a client that
   * connects and says nothing is not kept for the whole keep-alive timeout. Default: the
   * keep-alive timeout.
   */
  firstRequestTimeoutMs?: number;
  pool: UpstreamPool;
  /**
   * A request body that stops arriving is cut off after this long without a byte (a
   * stall, not a total); time the proxy itself is not reading does not count. Off when absent.
   */
  bodyTimeoutMs?: number;
  /**
   * A client that takes no byte of its response for this long (the socket stays full) is
   * cut off: otherwise a client that never reads holds the connection, the upstream one and
   * the service's in-flight count for good. Off when absent.
   */
  sendTimeoutMs?: number;
  /** Where the keep-alive, body and response timeouts are kept (one for the proxy). */
  deadlines: Deadlines;
}

/** Why the socket is not being read; it is read again once no reason is left. */
const PAUSED = {
  /** Body bytes wait for the exchange to be forwarded (a held request, a connect under way). */
  bodyWaiting: 1,
  /** The target is not keeping up with the upload. */
  upload: 2,
  /** Pipelined requests wait behind the current one; enough of them are buffered. */
  pipelined: 4,
} as const;

/** Pipelined bytes buffered behind the current request before the socket stops being read. */
const MAX_PIPELINED_BYTES = 64 * 1024;

export class FastConnection implements ClientConnection {
  readonly encrypted: boolean;
  /** Bytes received beyond the current request: the next request's head, or its start. */
  private received: Buffer | undefined;
  private exchange: FastExchange | undefined;
  /** Body bytes of the current request still to come from the client. */
  private bodyRemaining = 0;
  /** Body bytes received before the exchange was forwarded. */
  private bodyQueue: Buffer[] = [];
  private bodySink: FastExchange | undefined;
  /** The exchange ended without its body (the proxy answered): the rest is read and dropped. */
  private discardingBody = false;
  private closeAfter = false;
  private paused = 0;
  private gone = false;
  /** The keep-alive timeout: armed while no request is under way. */
  private readonly idleDeadline = new Deadline(() => {
    if (!this.exchange) this.destroy();
  });
  /** The current exchange's response timeout. */
  private readonly responseDeadline = new Deadline(() => this.exchange?.responseTimedOut());
  /** The request body's progress timeout: re-armed by every body byte that arrives. */
  private readonly bodyDeadline = new Deadline(() => this.bodyStalled());
  /** The send timeout: armed while the socket is full, cancelled when it drains. */
  private readonly sendDeadline = new Deadline(() => this.destroy());

  constructor(
    private readonly socket: Socket,
    private readonly host: FastPathHost,
    private readonly options: FastConnectionOptions,
  ) {
    this.encrypted = (socket as Partial<TLSSocket>).encrypted === true;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    options.deadlines.arm(this.idleDeadline, options.firstRequestTimeoutMs ?? options.keepAliveTimeoutMs);
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get closing(): boolean {
    return this.host.isClosing();
  }

  /** Whether a request is under way (close() lets those finish). */
  get busy(): boolean {
    return this.exchange !== undefined;
  }

  // ---------- reading ----------

  private readonly onData = (chunk: Buffer): void => {
    const rest = this.exchange && this.bodyRemaining > 0 ? this.takeBody(chunk) : chunk;
    if (rest) this.received = this.received ? Buffer.concat([this.received, rest]) : rest;
    if (!this.exchange) this.next();
    else if (this.discardingBody && this.bodyRemaining === 0) this.bodyDone();
    else if (this.received && this.received.length > MAX_PIPELINED_BYTES) this.pause(PAUSED.pipelined);
  };

  /** Starts the next request if a whole head is there; anything else goes to node:http. */
  private next(): void {
    const received = this.received;
    if (!received || this.exchange || this.gone) return;
    const result = parseRequestHead(received, 0, this.options.maxHeadBytes);
    if (result.kind !== 'head' || this.host.prefersNode?.(result.head)) {
      this.handOff();
      return;
    }
    const head = result.head;
    this.received = received.length > head.length ? received.subarray(head.length) : undefined;
    const exchange = new FastExchange(this, head, this.options.pool);
    this.exchange = exchange;
    this.idleDeadline.cancel();
    this.closeAfter = head.close;
    this.bodyRemaining = head.contentLength;
    if (this.bodyRemaining > 0 && this.received) {
      const body = this.received;
      this.received = undefined;
      this.received = this.takeBody(body);
    } else if (this.bodyRemaining > 0) this.watchBody();
    this.host.serve(exchange).then(
      () => this.exchangeServed(exchange),
      () => this.destroy(),
    );
  }

  /** Takes the current request's body bytes from `chunk`; returns what follows them. */
  private takeBody(chunk: Buffer): Buffer | undefined {
    const take = Math.min(this.bodyRemaining, chunk.length);
    const body = take === chunk.length ? chunk : chunk.subarray(0, take);
    this.bodyRemaining -= take;
    this.watchBody();
    if (!this.discardingBody) {
      if (this.bodySink) {
        if (!this.bodySink.writeBody(body)) this.pause(PAUSED.upload);
        if (this.bodyRemaining === 0) this.bodySink.endBody();
      } else {
        this.bodyQueue.push(body);
        this.pause(PAUSED.bodyWaiting);
      }
    }
    return take === chunk.length ? undefined : chunk.subarray(take);
  }

  /** Arms the body deadline while body bytes are still to come, from the last byte received. */
  private watchBody(): void {
    const timeoutMs = this.options.bodyTimeoutMs;
    if (this.bodyRemaining === 0) this.bodyDeadline.cancel();
    else if (timeoutMs !== undefined && timeoutMs > 0) this.options.deadlines.arm(this.bodyDeadline, timeoutMs);
  }

  /**
   * No body byte for the body timeout. While the proxy is not reading (the request is held,
   * the target is slow to take the upload) the client is not at fault: the clock starts again.
   */
  private bodyStalled(): void {
    if (this.bodyRemaining === 0 || this.gone) return;
    if ((this.paused & (PAUSED.bodyWaiting | PAUSED.upload)) !== 0) this.watchBody();
    else this.destroy();
  }

  streamBodyTo(exchange: FastExchange): void {
    this.bodySink = exchange;
    const queued = this.bodyQueue;
    this.bodyQueue = [];
    let flowing = true;
    for (const chunk of queued) flowing = exchange.writeBody(chunk) && flowing;
    if (!flowing) this.pause(PAUSED.upload);
    this.resume(PAUSED.bodyWaiting);
    if (this.bodyRemaining === 0) exchange.endBody();
  }

  pauseBody(): void {
    this.pause(PAUSED.upload);
  }

  resumeBody(): void {
    this.resume(PAUSED.upload);
  }

  private pause(reason: number): void {
    if (this.paused === 0) this.socket.pause();
    this.paused |= reason;
  }

  private resume(reason: number): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    if (this.paused !== 0) return;
    this.socket.resume();
    // The client gets the whole body timeout from when the proxy reads again.
    if (this.bodyRemaining > 0) this.watchBody();
  }

  // ---------- the end of an exchange ----------

  private exchangeServed(exchange: FastExchange): void {
    if (this.exchange !== exchange) return;
    this.bodySink = undefined;
    this.bodyQueue = [];
    this.resume(PAUSED.bodyWaiting | PAUSED.upload);
    if (this.closeAfter || this.host.isClosing()) {
      this.end();
      return;
    }
    // The body the exchange did not take is read and dropped, so the next request is
    // found where it starts.
    if (this.bodyRemaining > 0) this.discardingBody = true;
    else this.bodyDone();
  }

  private bodyDone(): void {
    this.discardingBody = false;
    this.exchange = undefined;
    this.resume(PAUSED.pipelined);
    this.next();
    if (!this.exchange && !this.gone) this.options.deadlines.arm(this.idleDeadline, this.options.keepAliveTimeoutMs);
  }

  // ---------- writing ----------

  write(data: Buffer | string): boolean {
    const flowing = typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
    const timeoutMs = this.options.sendTimeoutMs;
    if (!flowing && timeoutMs !== undefined && timeoutMs > 0 && !this.sendDeadline.armed)
      this.options.deadlines.arm(this.sendDeadline, timeoutMs);
    return flowing;
  }

  writeAnswer(value: ProxyAnswer, method: string): void {
    const close = this.closeAfter || this.host.isClosing() || value.close;
    if (close) this.closeAfter = true;
    this.socket.write(serializeAnswer(value, close, method));
  }

  closeAfterExchange(): void {
    this.closeAfter = true;
  }

  startResponseTimeout(ms: number): void {
    this.options.deadlines.arm(this.responseDeadline, ms);
  }

  stopResponseTimeout(): void {
    this.responseDeadline.cancel();
  }

  private end(): void {
    if (this.gone) return;
    this.gone = true;
    this.socket.end(() => this.socket.destroy());
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Closes the connection if no request is under way (the proxy is shutting down). */
  closeIfIdle(): void {
    if (!this.exchange) this.destroy();
  }

  // ---------- the socket's life ----------

  private readonly onDrain = (): void => {
    this.sendDeadline.cancel();
    this.exchange?.onClientDrain();
  };

  private readonly onEnd = (): void => {
    // Like node:http: a client that ends its side abandons what it asked for.
    this.exchange?.clientGone();
    this.end();
  };

  private readonly onError = (): void => {
    // 'close' follows and cleans up.
  };

  private readonly onClose = (): void => {
    this.gone = true;
    this.idleDeadline.cancel();
    this.responseDeadline.cancel();
    this.bodyDeadline.cancel();
    this.sendDeadline.cancel();
    this.exchange?.clientGone();
    this.host.connectionClosed(this);
  };

  private handOff(): void {
    const received = this.received;
    this.received = undefined;
    this.gone = true;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.socket.off('drain', this.onDrain);
    this.idleDeadline.cancel();
    this.bodyDeadline.cancel();
    this.host.connectionClosed(this);
    this.host.handOff(this.socket, received);
  }
}
