import type { Logger } from '../util/logger.js';
import { CLOUDEVENTS_CONTENT_TYPE, type CloudEvent } from './cloudevents.js';
import { webhookSigner, type WebhookSigner } from './webhook-signature.js';

// Lifecycle webhooks: CloudEvents POSTed to the operator's URLs. Handing an event over is
// synchronous and constant-time (push onto a bounded in-memory queue), so a slow, failing
// or hanging receiver never holds up a reconcile. Each URL has its own queue, delivered one
// event at a time, in order, each retried with doubling delays; a full queue drops its
// oldest event (counted), so memory stays bounded whatever a receiver does. Events are not
// persisted: after a restart, only new events are sent.

export interface WebhookSettings {
  urls: string[];
  /** Events waiting per URL before the oldest is dropped. */
  queueSize: number;
  /** Tries per event, the first included. */
  maxAttempts: number;
  /** Wait before the first retry; doubled for each next one. */
  retryDelayMs: number;
  /** One attempt's limit: a receiver that hangs is given up on after this. */
  timeoutMs: number;
  /** `whsec_…`: deliveries are signed (Standard Webhooks) when set; unsigned otherwise. */
  secret?: string;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  urls: [],
  queueSize: 1_000,
  maxAttempts: 5,
  retryDelayMs: 1_000,
  timeoutMs: 5_000,
};

/** Sends one event; resolves with the HTTP status, rejects on a network error or timeout. */
export type WebhookSender = (url: string, event: CloudEvent, timeoutMs: number) => Promise<number>;

export interface WebhookStats {
  url: string;
  queued: number;
  delivered: number;
  /** Events given up on after maxAttempts. */
  failed: number;
  /** Events dropped from a full queue. */
  dropped: number;
  retries: number;
}

/** POSTs the event as JSON, signed with `signer` when there is one. */
export function fetchSender(signer?: WebhookSigner): WebhookSender {
  return async (url, event, timeoutMs) => {
    const body = JSON.stringify(event);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE, ...signer?.(event.id, body, new Date()) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status;
  };
}

export const sendWithFetch: WebhookSender = fetchSender();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

class EndpointQueue {
  private readonly pending: CloudEvent[] = [];
  private draining = false;
  private closed = false;
  readonly stats: WebhookStats;

  constructor(
    readonly url: string,
    private readonly settings: WebhookSettings,
    private readonly send: WebhookSender,
    private readonly wait: (ms: number) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.stats = { url, queued: 0, delivered: 0, failed: 0, dropped: 0, retries: 0 };
  }

  push(event: CloudEvent): void {
    if (this.closed) return;
    if (this.pending.length >= this.settings.queueSize) {
      this.pending.shift();
      this.stats.dropped++;
    }
    this.pending.push(event);
    this.stats.queued = this.pending.length;
    if (!this.draining) void this.drain();
  }

  close(): void {
    this.closed = true;
    this.pending.length = 0;
    this.stats.queued = 0;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let event = this.pending.shift(); event && !this.closed; event = this.pending.shift()) {
        this.stats.queued = this.pending.length;
        await this.deliver(event);
      }
    } finally {
      this.draining = false;
    }
  }

  private async deliver(event: CloudEvent): Promise<void> {
    const { maxAttempts, retryDelayMs, timeoutMs } = this.settings;
    let problem = '';
    for (let attempt = 1; attempt <= maxAttempts && !this.closed; attempt++) {
      try {
        const status = await this.send(this.url, event, timeoutMs);
        if (status >= 200 && status < 300) {
          this.stats.delivered++;
          return;
        }
        problem = `answered ${status}`;
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      if (attempt < maxAttempts) {
        this.stats.retries++;
        await this.wait(retryDelayMs * 2 ** (attempt - 1));
      }
    }
    if (this.closed) return;
    this.stats.failed++;
    this.logger.warn(
      { url: this.url, type: event.type, subject: event.subject, attempts: maxAttempts, err: problem },
      'webhook delivery gave up',
    );
  }
}

export class WebhookDispatcher {
  private readonly queues: EndpointQueue[];

  constructor(
    settings: WebhookSettings,
    options: { logger: Logger; send?: WebhookSender; sleep?: (ms: number) => Promise<void> },
  ) {
    const send = options.send ?? fetchSender(settings.secret ? webhookSigner(settings.secret) : undefined);
    if (settings.urls.length > 0 && !settings.secret)
      options.logger.warn('webhooks are sent unsigned: set webhooks.secret in the config file to sign them');
    const wait = options.sleep ?? sleep;
    this.queues = settings.urls.map((url) => new EndpointQueue(url, settings, send, wait, options.logger));
  }

  /** Queues the event for every URL and returns at once. */
  dispatch(event: CloudEvent): void {
    for (const queue of this.queues) queue.push(event);
  }

  stats(): WebhookStats[] {
    return this.queues.map((queue) => ({ ...queue.stats }));
  }

  /** Stops delivering; what is still queued is dropped (events are not persisted). */
  close(): void {
    for (const queue of this.queues) queue.close();
  }
}
