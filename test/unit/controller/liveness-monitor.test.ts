import { describe, expect, it } from 'vitest';
import { LivenessMonitor, type LivenessFailure } from '../../../src/controller/liveness-monitor.js';
import type { LivenessSettings } from '../../../src/model/project-settings.js';
import type { ManagedContainer } from '../../../src/runtime/runtime.js';
import type { LivenessProber } from '../../../src/util/liveness-probe.js';
import { FakeClock, settle } from '../../support/fakes/fake-clock.js';

// The liveness monitor with an injected clock and prober: no sockets, no real waits.
// Each port answers as the test says: alive, an error, or not at all until released.

const SETTINGS: LivenessSettings = {
  check: { type: 'http', path: '/healthz' },
  periodMs: 10_000,
  timeoutMs: 1_000,
  failureThreshold: 3,
  initialDelayMs: 0,
};

class FakeLiveness {
  readonly calls: Array<{ port: number; at: number; timeoutMs: number }> = [];
  readonly errors = new Map<number, string>();
  readonly hanging = new Set<number>();
  private readonly releases: Array<() => void> = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly clock: FakeClock) {}

  readonly probe: LivenessProber = async (_host, port, _check, timeoutMs) => {
    this.calls.push({ port, at: this.clock.now(), timeoutMs });
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.hanging.has(port)) await new Promise<void>((resolve) => this.releases.push(resolve));
      const error = this.errors.get(port);
      if (error) throw new Error(error);
    } finally {
      this.inFlight -= 1;
    }
  };

  releaseAll(): void {
    for (const release of this.releases.splice(0)) release();
  }

  at(port: number): number[] {
    return this.calls.filter((call) => call.port === port).map((call) => call.at);
  }
}

function container(id: string, hostPort: number): ManagedContainer {
  return {
    id,
    name: `luma-web-${id}`,
    owner: { kind: 'Project', name: 'web', uid: 'u' },
    role: 'instance',
    specHash: 'h',
    state: 'running',
    hostPort,
    appPort: 8080,
    image: 'img',
    createdAt: new Date(0),
  };
}

function world(concurrency?: number): {
  clock: FakeClock;
  prober: FakeLiveness;
  monitor: LivenessMonitor;
  failures: LivenessFailure[];
} {
  const clock = new FakeClock(1_000_000);
  const prober = new FakeLiveness(clock);
  const failures: LivenessFailure[] = [];
  const monitor = new LivenessMonitor({
    clock,
    probe: prober.probe,
    onFailure: (failure) => failures.push(failure),
    ...(concurrency !== undefined ? { concurrency } : {}),
  });
  return { clock, prober, monitor, failures };
}

describe('LivenessMonitor', () => {
  it('checks each instance every period from its ready time plus the initial delay', async () => {
    const { clock, prober, monitor } = world();
    const start = clock.now();
    monitor.watch('web', { ...SETTINGS, initialDelayMs: 5_000 }, [{ container: container('a', 1), readyAt: start }]);
    await clock.advance(35_000);
    expect(prober.at(1)).toEqual([start + 5_000, start + 15_000, start + 25_000, start + 35_000]);
    expect(prober.calls[0]?.timeoutMs).toBe(1_000);
  });

  it('reports an instance once after failureThreshold failures in a row, with the last error', async () => {
    const { clock, prober, monitor, failures } = world();
    monitor.watch('web', SETTINGS, [
      { container: container('a', 1), readyAt: clock.now() },
      { container: container('b', 2), readyAt: clock.now() },
    ]);
    prober.errors.set(1, 'HTTP 500');
    await clock.advance(10_000);
    expect(failures).toEqual([]);
    prober.errors.set(1, 'HTTP 503');
    await clock.advance(10_000);
    expect(failures).toEqual([
      { project: 'web', id: 'a', container: 'luma-web-a', failures: 3, lastError: 'HTTP 503' },
    ]);
    expect(monitor.failureOf('a')).toEqual(failures[0]);
    expect(monitor.failureOf('b')).toBeUndefined();
    // No longer checked once failed; the healthy one goes on.
    await clock.advance(30_000);
    expect(prober.at(1)).toHaveLength(3);
    expect(prober.at(2)).toHaveLength(6);
    expect(failures).toHaveLength(1);
  });

  it('starts counting again after a success', async () => {
    const { clock, prober, monitor, failures } = world();
    monitor.watch('web', SETTINGS, [{ container: container('a', 1), readyAt: clock.now() }]);
    prober.errors.set(1, 'HTTP 500');
    await clock.advance(10_000); // failures at 0 s and 10 s
    prober.errors.delete(1);
    await clock.advance(10_000); // a success at 20 s
    prober.errors.set(1, 'HTTP 500');
    await clock.advance(20_000); // failures at 30 s and 40 s
    expect(failures).toEqual([]);
    await clock.advance(10_000);
    expect(failures).toHaveLength(1);
  });

  it('stops checking instances that are no longer listed, and drops a late answer of one', async () => {
    const { clock, prober, monitor, failures } = world();
    prober.hanging.add(1);
    prober.errors.set(1, 'connect ECONNREFUSED');
    monitor.watch('web', { ...SETTINGS, failureThreshold: 1 }, [
      { container: container('a', 1), readyAt: clock.now() },
    ]);
    await clock.advance(0);
    expect(prober.at(1)).toHaveLength(1);
    monitor.watch('web', SETTINGS, []);
    prober.releaseAll();
    await settle();
    await clock.advance(60_000);
    expect(failures).toEqual([]);
    expect(prober.at(1)).toHaveLength(1);
    expect(monitor.watching()).toBe(0);
  });

  it('checks nothing for a project without liveness settings', async () => {
    const { clock, prober, monitor } = world();
    monitor.watch('web', undefined, [{ container: container('a', 1), readyAt: clock.now() }]);
    await clock.advance(60_000);
    expect(prober.calls).toEqual([]);
  });

  it('keeps one timer and a bounded number of checks in flight for thousands of instances', async () => {
    const { clock, prober, monitor } = world(8);
    for (let project = 0; project < 100; project++) {
      const targets = Array.from({ length: 30 }, (_, i) => ({
        container: container(`p${project}-${i}`, 10_000 + project * 30 + i),
        readyAt: clock.now() - ((project * 30 + i) % 10_000),
      }));
      monitor.watch(`p${project}`, SETTINGS, targets);
    }
    expect(clock.pendingTimers()).toBe(1);
    prober.hanging.add(10_000); // one slow instance holds one slot, not the others
    await clock.advance(20_000);
    expect(prober.maxInFlight).toBeLessThanOrEqual(8);
    // Every instance but the hanging one was checked in each period.
    expect(new Set(prober.calls.map((call) => call.port)).size).toBe(3_000);
    expect(clock.pendingTimers()).toBe(1);
    prober.releaseAll();
  });

  it('forgets a failed instance once it is gone, and everything of a deleted project', async () => {
    const { clock, prober, monitor, failures } = world();
    prober.errors.set(1, 'HTTP 500');
    monitor.watch('web', { ...SETTINGS, failureThreshold: 1 }, [
      { container: container('a', 1), readyAt: clock.now() },
      { container: container('b', 2), readyAt: clock.now() },
    ]);
    await clock.advance(0);
    expect(failures.map((failure) => failure.id)).toEqual(['a']);
    monitor.forget('a');
    expect(monitor.failureOf('a')).toBeUndefined();
    monitor.forgetProject('web');
    expect(monitor.watching()).toBe(0);
  });
});
