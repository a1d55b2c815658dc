import type { Dispatcher } from 'undici';
import type { ForwardOptions, ForwardOutcome } from './exchange.js';

// The two clocks of one request forwarded over undici, shared by node:http's requests
// (forwarder.ts) and HTTP/2 streams (tls/http2-exchange.ts): the response timeout and the
// request's whole deadline. Either one settles the forward first and then aborts the
// upstream request, because aborting calls undici's onError at once, which must not win.

type AbortUpstream = Parameters<NonNullable<Dispatcher.DispatchHandler['onConnect']>>[0];

/** What the response clock waits on: the request body's end (an IncomingMessage or a stream). */
interface RequestBody {
  once(event: 'end', listener: () => void): unknown;
}

export class ForwardClocks {
  private done = false;
  private responseTimer: NodeJS.Timeout | undefined;
  private abortUpstream: AbortUpstream | undefined;

  constructor(
    private readonly options: ForwardOptions,
    private readonly resolve: (outcome: ForwardOutcome) => void,
    /** The response head went out: the response clock has nothing left to time. */
    private readonly responseStarted: () => boolean,
  ) {
    // The whole-request deadline: the upstream request stops; the routing answers 504 or cuts the answer.
    options.deadline?.whenExpired(() => this.stop({ kind: 'request-timeout' }, 'request timeout'));
  }

  get settled(): boolean {
    return this.done;
  }

  /** Settles the forward once; later outcomes are ignored. */
  finish(outcome: ForwardOutcome): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.responseTimer);
    this.options.deadline?.whenExpired(undefined);
    this.resolve(outcome);
  }

  /** Settles with `outcome`, then aborts the upstream request. */
  stop(outcome: ForwardOutcome, reason: string): void {
    this.finish(outcome);
    this.abortUpstream?.(new Error(reason));
  }

  /** undici's onConnect: keeps the abort, and uses it at once if the forward already settled. */
  connected(abort: AbortUpstream): void {
    this.abortUpstream = abort;
    if (this.done) abort(new Error('already settled'));
  }

  /**
   * Like nginx's proxy_read_timeout, the response clock starts once the client has sent the
   * whole request: a slow upload is not a slow response. undici reads a body as it sends it,
   * so the body's 'end' marks the upload's end.
   */
  startAfterRequest(body: RequestBody, bodyPending: boolean): void {
    if (bodyPending) body.once('end', () => this.startResponseClock());
    else this.startResponseClock();
  }

  /** The response head came: the response clock stops. */
  responseHeadCame(): void {
    clearTimeout(this.responseTimer);
  }

  private startResponseClock(): void {
    if (this.done || this.responseStarted()) return;
    this.responseTimer = setTimeout(
      () => this.stop({ kind: 'response-timeout' }, 'response timeout'),
      this.options.responseTimeoutMs,
    );
  }
}
