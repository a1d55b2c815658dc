import type { ReadinessProber } from '../../../src/controller/instance-lifecycle.js';
import { ReadinessTimeoutError } from '../../../src/util/readiness-probe.js';

// A readiness prober without sockets: every port answers ready at once, except the ones a
// test marks as never ready, which wait (in short ticks) until the caller gives up (an
// exit seen) or the startup timeout passes, as the real probe does.

const TICK_MS = 5;

export class FakeProber {
  /** Ports probed, in order. */
  readonly probed: number[] = [];
  readonly neverReady = new Set<number>();

  private failures = 0;

  /** The next `times` probes fail at once, as a probe that timed out does. */
  failNext(times = 1): void {
    this.failures = times;
  }

  readonly probe: ReadinessProber = async (host, port, _check, timeoutMs, isCancelled = () => false) => {
    this.probed.push(port);
    if (this.failures > 0) {
      this.failures -= 1;
      throw new ReadinessTimeoutError(`${host}:${port}`, timeoutMs, 'HTTP 500');
    }
    if (!this.neverReady.has(port)) return;
    const deadline = Date.now() + timeoutMs;
    while (!isCancelled()) {
      if (Date.now() >= deadline) throw new ReadinessTimeoutError(`${host}:${port}`, timeoutMs, 'HTTP 500');
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    throw new Error('readiness wait cancelled');
  };

  count(port: number): number {
    return this.probed.filter((probed) => probed === port).length;
  }
}
