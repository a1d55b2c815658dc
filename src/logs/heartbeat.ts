import type { Clock } from '../util/clock.js';

// A beat every interval while a log stream is open, so that proxies and clients with idle
// timeouts keep a quiet stream open (and a dead peer is noticed when a write fails).

export function startHeartbeat(clock: Clock, intervalMs: number, beat: () => void): () => void {
  if (!(intervalMs > 0)) throw new RangeError(`a heartbeat interval must be positive, got ${intervalMs} ms`);
  let stopped = false;
  let handle: unknown;
  const arm = (): void => {
    handle = clock.setTimeout(() => {
      if (stopped) return;
      beat();
      arm();
    }, intervalMs);
  };
  arm();
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}
