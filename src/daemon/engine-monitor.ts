import { errorMessage } from '../util/error-message.js';
import { systemClock, type Clock } from '../util/clock.js';

// Whether the Docker engine answers, watched all the time: every few seconds while it is
// up, and, once it is gone, again and again with a growing delay (reconnecting with
// backoff) so that the moment it is back everything is reconciled. Transitions are
// reported once each, never per check.

export const ENGINE_CHECK_INTERVAL_MS = 5_000;
export const ENGINE_RETRY_INITIAL_MS = 250;
export const ENGINE_RETRY_MAX_MS = 4_000;

export interface EngineState {
  reachable: boolean;
  /** Why it is not, as the last check said. */
  error?: string;
  /** When the current state began (epoch ms). */
  since: number;
}

export interface EngineMonitorOptions {
  ping: () => Promise<void>;
  clock?: Clock;
  checkIntervalMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Once per outage, with why. */
  onDown: (error: string) => void;
  /** Once when the engine answers again after an outage. */
  onUp: (downForMs: number) => void;
}

export class EngineMonitor {
  private current: EngineState;
  private timer: unknown;
  private retryMs: number;
  private stopped = false;
  private readonly clock: Clock;

  constructor(private readonly options: EngineMonitorOptions) {
    this.clock = options.clock ?? systemClock;
    this.current = { reachable: true, since: this.clock.now() };
    this.retryMs = options.retryInitialMs ?? ENGINE_RETRY_INITIAL_MS;
  }

  /** Starts watching; the engine is taken to be up (the caller has just pinged it). */
  start(): void {
    this.schedule(this.options.checkIntervalMs ?? ENGINE_CHECK_INTERVAL_MS);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  /** The last known state, without asking the engine. */
  state(): EngineState {
    return this.current;
  }

  /** Asks the engine now (health checks want a fresh answer) and reports a transition if there is one. */
  async check(): Promise<EngineState> {
    try {
      await this.options.ping();
      this.markUp();
    } catch (error) {
      this.markDown(errorMessage(error));
    }
    return this.current;
  }

  private markUp(): void {
    const wasDown = !this.current.reachable;
    const now = this.clock.now();
    const downFor = now - this.current.since;
    if (wasDown) this.current = { reachable: true, since: now };
    this.retryMs = this.options.retryInitialMs ?? ENGINE_RETRY_INITIAL_MS;
    if (wasDown) this.options.onUp(downFor);
  }

  private markDown(error: string): void {
    const wasUp = this.current.reachable;
    this.current = { reachable: false, error, since: wasUp ? this.clock.now() : this.current.since };
    if (wasUp) this.options.onDown(error);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    const state = await this.check();
    if (state.reachable) {
      this.schedule(this.options.checkIntervalMs ?? ENGINE_CHECK_INTERVAL_MS);
      return;
    }
    // Down: look again soon, then less and less often.
    const delay = this.retryMs;
    this.retryMs = Math.min(this.options.retryMaxMs ?? ENGINE_RETRY_MAX_MS, this.retryMs * 2);
    this.schedule(delay);
  }
}
