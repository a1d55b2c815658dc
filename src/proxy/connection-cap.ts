import type { Server, Socket } from 'node:net';

// A cap on open client connections, counted across every public listener (plain HTTP and
// HTTPS share one count). A connection beyond it is closed the moment it is accepted,
// before any TLS handshake or parsing: refused cleanly rather than accepted and starved,
// so the proxy never holds more sockets than the operator allowed.

export class ConnectionCap {
  private open = 0;
  private refused = 0;
  private lastReportAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly max: number,
    /** Told, at most once per reportIntervalMs, how many were refused since the last report. */
    private readonly onRefused: (refusedSinceLastReport: number) => void = () => undefined,
    private readonly reportIntervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Open connections counted now. */
  get count(): number {
    return this.open;
  }

  /**
   * Puts the cap in front of `server`'s 'connection' listeners (install it after them):
   * they see only the connections it admits.
   */
  guard(server: Server): void {
    const listeners = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.admit(socket)) return;
      for (const listener of listeners) listener.call(server, socket);
    });
  }

  /** Counts `socket` until it closes, or closes it at once when the cap is reached. */
  admit(socket: Socket): boolean {
    if (this.open >= this.max) {
      socket.destroy();
      this.report();
      return false;
    }
    this.open++;
    socket.once('close', () => this.open--);
    return true;
  }

  private report(): void {
    this.refused++;
    const now = this.now();
    if (now - this.lastReportAt < this.reportIntervalMs) return;
    this.lastReportAt = now;
    this.onRefused(this.refused);
    this.refused = 0;
  }
}
