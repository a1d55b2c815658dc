import type { IncomingMessage } from 'node:http';

// The request-body deadline of connections node:http parses (plain HTTP/1.1 handed over
// by the fast path, HTTPS over HTTP/1.1 and HTTP/2): a client that stops sending in the
// middle of a body is cut off once no byte has come for the body timeout. It is not a
// total: an upload that keeps moving, however slowly, is never cut. Time spent while the
// proxy itself is not reading (a request held for a cold start, a target not keeping up
// with the upload) does not count against the client.
//
// One interval for the whole proxy sweeps the bodies under way (like node:http's own
// headers-timeout check), so no timer is set or reset per chunk.

/** What the watch needs to know of one request body. */
export interface BodyProgress {
  /** Bytes received so far on what carries the body; any change is progress. */
  received(): number;
  /** The proxy is reading the body now (not holding it, not paused for backpressure). */
  reading(): boolean;
  /** The body has arrived whole, or the request is gone: nothing left to watch. */
  finished(): boolean;
  /** Cuts the request off. */
  cut(): void;
}

interface Watched {
  progress: BodyProgress;
  lastReceived: number;
  lastProgressAt: number;
}

export class BodyProgressWatch {
  private readonly watched = new Set<Watched>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly sweepEveryMs: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    // Checked at a quarter of the timeout: a stall is cut between 1 and 1.25 timeouts.
    this.sweepEveryMs = Math.max(50, Math.min(1_000, Math.floor(timeoutMs / 4)));
  }

  /** How many bodies are being watched (tests, metrics). */
  get size(): number {
    return this.watched.size;
  }

  watch(progress: BodyProgress): void {
    if (this.timeoutMs <= 0 || progress.finished()) return;
    this.watched.add({ progress, lastReceived: progress.received(), lastProgressAt: this.now() });
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), this.sweepEveryMs);
      this.sweeper.unref();
    }
  }

  /** Cuts every body that has not moved for the timeout while the proxy was reading it. */
  sweep(): void {
    const now = this.now();
    for (const entry of this.watched) {
      const { progress } = entry;
      if (progress.finished()) {
        this.watched.delete(entry);
        continue;
      }
      const received = progress.received();
      if (received !== entry.lastReceived || !progress.reading()) {
        entry.lastReceived = received;
        entry.lastProgressAt = now;
      } else if (now - entry.lastProgressAt >= this.timeoutMs) {
        this.watched.delete(entry);
        progress.cut();
      }
    }
    if (this.watched.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** How an HTTP/1.1 request's body progresses: bytes read on its connection. */
function http1Progress(req: IncomingMessage): BodyProgress {
  const socket = req.socket;
  return {
    received: () => socket.bytesRead,
    // Flowing once forwarded (or dumped after the proxy answered); paused under backpressure;
    // null while nobody reads it (held for a cold start).
    reading: () => req.readableFlowing === true,
    finished: () => req.complete || socket.destroyed,
    cut: () => socket.destroy(),
  };
}

/** The progress of a request's body, or undefined when it has none (or has all of it). */
export function bodyProgressOf(req: IncomingMessage): BodyProgress | undefined {
  if (!hasBody(req) || req.complete) return undefined;
  // HTTP/2 streams are watched through their exchange (tls/http2-exchange.ts).
  return http1Progress(req);
}
