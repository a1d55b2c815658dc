import net, { type Socket } from 'node:net';
import type { Target } from '../route-table.js';
import { setSocketOptions } from '../socket-options.js';

// Keep-alive connections to targets for the fast path, per target address, most recently
// used first. A connection listens to its socket once, for its whole life, and passes
// what happens to whichever exchange uses it at the moment: nothing is added or removed
// per request. An idle connection that the target closes, or that sends anything, is
// dropped; one idle for longer than the target's Keep-Alive hint allows is closed by a
// sweep, before the target would close it under a request.
//
// Every connection reads into one buffer that the pool owns (net's `onread`): Node then
// neither allocates a buffer per read nor passes it through a Readable stream. The bytes
// handed to a user are only valid during the call that hands them over.

/** The pool's read buffer: as large as the chunks Node reads by default. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Connections warm() keeps idle for one target at the most: one request is waiting for a thaw, rarely more. */
const MAX_WARM_CONNECTIONS = 2;

export interface UpstreamUser {
  /** Bytes from the target: a view of the pool's read buffer, overwritten by the next read. Copy what must outlive the call. */
  onUpstreamData(chunk: Buffer): void;
  /** The target ended its side (EOF); 'close' follows. */
  onUpstreamEnd(): void;
  /** The connection is gone; `error` says why when it failed. */
  onUpstreamClose(error: Error | undefined): void;
  onUpstreamDrain(): void;
}

export const UPSTREAM_POOL_DEFAULTS = {
  /** Idle time allowed when the target gives no Keep-Alive hint (undici's default too). */
  idleMs: 4_000,
  /** The most idle time allowed whatever the hint says. */
  maxIdleMs: 60_000,
  /** A hinted timeout is cut by this much, so the proxy closes first. */
  hintMarginMs: 1_000,
  sweepIntervalMs: 1_000,
} as const;

export class UpstreamConnection {
  user: UpstreamUser | undefined;
  /** Requests this connection has carried to their end. */
  served = 0;
  /** Opened ahead of any request (warm()): like a kept connection, it may be found closed when used. */
  warmed = false;
  idleSince = 0;
  idleLimitMs: number = UPSTREAM_POOL_DEFAULTS.idleMs;
  readonly socket: Socket;
  private failure: Error | undefined;

  constructor(
    readonly address: string,
    target: Target,
    pool: UpstreamPool,
    readBuffer: Buffer,
  ) {
    const socket = net.connect({
      host: target.host,
      port: target.port,
      onread: {
        buffer: readBuffer,
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          if (this.user) this.user.onUpstreamData((buffer as Buffer).subarray(0, bytes));
          else socket.destroy(); // nothing is owed on an idle connection
          return true;
        },
      },
    });
    this.socket = socket;
    setSocketOptions(socket);
    socket.on('end', () => {
      if (this.user) this.user.onUpstreamEnd();
      else socket.destroy();
    });
    socket.on('error', (error: Error) => {
      this.failure = error;
    });
    socket.on('close', () => {
      pool.forget(this);
      const user = this.user;
      this.user = undefined;
      user?.onUpstreamClose(this.failure);
    });
    socket.on('drain', () => this.user?.onUpstreamDrain());
  }

  /** Ends the connection without telling its user (who is done with it). */
  discard(): void {
    this.user = undefined;
    this.socket.destroy();
  }
}

export class UpstreamPool {
  private readonly idle = new Map<string, UpstreamConnection[]>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Shared by every connection of the pool: reads are handled one at a time, each to its end. */
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  constructor(private readonly now: () => number = Date.now) {}

  /** An idle connection to the target if there is one, a new one otherwise. */
  acquire(target: Target, user: UpstreamUser): UpstreamConnection {
    const connection = this.idle.get(target.address)?.pop();
    if (connection) {
      connection.user = user;
      return connection;
    }
    return this.connect(target, user);
  }

  /**
   * Opens a connection ahead of the request that will use it (a paused container's port,
   * while it is thawed), unless enough are already idle for the target. It waits like any
   * idle connection, and a request that finds it closed is retried on a new one.
   */
  warm(target: Target): void {
    if (this.idleCount(target.address) >= MAX_WARM_CONNECTIONS) return;
    const connection = new UpstreamConnection(target.address, target, this, this.readBuffer);
    connection.warmed = true;
    this.keepIdle(connection, UPSTREAM_POOL_DEFAULTS.idleMs);
  }

  /** Always a new connection (for a retry after a kept connection failed). */
  connect(target: Target, user: UpstreamUser): UpstreamConnection {
    const connection = new UpstreamConnection(target.address, target, this, this.readBuffer);
    connection.user = user;
    return connection;
  }

  /** Takes back a connection whose exchange ended cleanly; `keepAliveSeconds` is the target's hint. */
  release(connection: UpstreamConnection, keepAliveSeconds: number | undefined): void {
    connection.user = undefined;
    connection.served++;
    if (connection.socket.destroyed) return;
    this.keepIdle(
      connection,
      keepAliveSeconds === undefined
        ? UPSTREAM_POOL_DEFAULTS.idleMs
        : Math.min(
            UPSTREAM_POOL_DEFAULTS.maxIdleMs,
            Math.max(0, keepAliveSeconds * 1000 - UPSTREAM_POOL_DEFAULTS.hintMarginMs),
          ),
    );
  }

  private keepIdle(connection: UpstreamConnection, idleLimitMs: number): void {
    connection.idleSince = this.now();
    connection.idleLimitMs = idleLimitMs;
    let list = this.idle.get(connection.address);
    if (!list) {
      list = [];
      this.idle.set(connection.address, list);
    }
    list.push(connection);
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), UPSTREAM_POOL_DEFAULTS.sweepIntervalMs);
      this.sweeper.unref();
    }
  }

  /** Drops a connection from the idle lists (it closed). */
  forget(connection: UpstreamConnection): void {
    const list = this.idle.get(connection.address);
    const index = list?.indexOf(connection) ?? -1;
    if (list && index >= 0) list.splice(index, 1);
    if (list?.length === 0) this.idle.delete(connection.address);
  }

  /** How many idle connections are kept for a target address. */
  idleCount(address: string): number {
    return this.idle.get(address)?.length ?? 0;
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const list of [...this.idle.values()]) for (const connection of [...list]) connection.discard();
    this.idle.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const list of [...this.idle.values()]) {
      for (const connection of [...list])
        if (now - connection.idleSince >= connection.idleLimitMs) connection.discard();
    }
    if (this.idle.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
