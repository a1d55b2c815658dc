import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Target } from '../route-table.js';

// One HTTP/2 cleartext (h2c, prior knowledge) session per target, shared by every request
// to it: HTTP/2 multiplexes streams, so a second connection would only add a handshake.
// A session leaves the pool the moment it can take no new stream (GOAWAY received, closed,
// failed): the next request opens a fresh one, while streams already under way on the old
// session finish there. A session with no stream open for the idle time is closed.

export const H2C_SESSION_DEFAULTS = {
  /** A session with no stream open for this long is closed (the HTTP/1.1 pools keep connections as long). */
  idleTimeoutMs: 60_000,
  /** Per-stream receive window: a fast app's stream is not held to 64 KiB per round trip. */
  initialWindowSize: 1024 * 1024,
  /** The whole session's receive window: HTTP/2's default of 64 KiB would hold every stream to it together. */
  connectionWindowSize: 8 * 1024 * 1024,
} as const;

interface Pooled {
  readonly session: ClientHttp2Session;
  /** Resolves once connected; rejects with the connection's error. */
  readonly ready: Promise<ClientHttp2Session>;
  open: number;
  idleTimer?: NodeJS.Timeout;
}

export class H2cSessions {
  private readonly pooled = new Map<string, Pooled>();

  constructor(private readonly idleTimeoutMs: number = H2C_SESSION_DEFAULTS.idleTimeoutMs) {}

  /** The target's session, connected; rejects with the connection's error (ECONNREFUSED and the like). */
  get(target: Target): Promise<ClientHttp2Session> {
    const existing = this.pooled.get(target.address);
    if (existing && !existing.session.closed && !existing.session.destroyed) return existing.ready;
    const entry = this.connect(target);
    this.pooled.set(target.address, entry);
    return entry.ready;
  }

  /** Counts a stream on its session, so that only a session with none open is closed for idleness. */
  track(target: Target, session: ClientHttp2Session, stream: ClientHttp2Stream): void {
    const entry = this.pooled.get(target.address);
    if (entry?.session !== session) return;
    entry.open++;
    clearTimeout(entry.idleTimer);
    stream.once('close', () => {
      entry.open--;
      if (entry.open === 0) this.armIdle(target.address, entry);
    });
  }

  /** Forgets the target's session if it is still `session` (it refused a stream): the next request connects anew. */
  drop(target: Target, session: ClientHttp2Session): void {
    const entry = this.pooled.get(target.address);
    if (entry?.session !== session) return;
    clearTimeout(entry.idleTimer);
    this.pooled.delete(target.address);
  }

  /** Sessions in the pool now. */
  get size(): number {
    return this.pooled.size;
  }

  close(): void {
    for (const entry of this.pooled.values()) {
      clearTimeout(entry.idleTimer);
      entry.session.destroy();
    }
    this.pooled.clear();
  }

  private connect(target: Target): Pooled {
    const host = target.host.includes(':') ? `[${target.host}]` : target.host;
    const session = http2.connect(`http://${host}:${target.port}`, {
      settings: { enablePush: false, initialWindowSize: H2C_SESSION_DEFAULTS.initialWindowSize },
    });
    // Only requests under way keep the proxy's process alive, never a pooled session.
    session.unref();
    const forget = (): void => this.drop(target, session);
    // After GOAWAY the session takes no new stream; after close or an error, nothing at all.
    session.on('goaway', forget);
    session.on('close', forget);
    // Errors close the session ('close' above); each stream hears of its own.
    session.on('error', forget);
    const ready = new Promise<ClientHttp2Session>((resolve, reject) => {
      session.once('connect', () => {
        session.off('error', reject);
        session.setLocalWindowSize(H2C_SESSION_DEFAULTS.connectionWindowSize);
        resolve(session);
      });
      session.once('error', reject);
    });
    return { session, ready, open: 0 };
  }

  private armIdle(address: string, entry: Pooled): void {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      if (this.pooled.get(address) !== entry || entry.open > 0) return;
      this.pooled.delete(address);
      entry.session.close();
    }, this.idleTimeoutMs);
    entry.idleTimer.unref();
  }
}
