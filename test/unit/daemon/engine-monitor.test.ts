import { describe, expect, it } from 'vitest';
import { EngineMonitor } from '../../../src/daemon/engine-monitor.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';

// The engine watch on a fake clock: checks every 5 s while up; once down, retries after
// 250 ms doubling to 4 s; one report per transition.

function monitorWith(clock: FakeClock): {
  monitor: EngineMonitor;
  engine: { up: boolean; pings: number[] };
  reports: string[];
} {
  const engine = { up: true, pings: [] as number[] };
  const reports: string[] = [];
  const monitor = new EngineMonitor({
    clock,
    ping: async () => {
      engine.pings.push(clock.now());
      if (!engine.up) throw new Error('connect ENOENT /tmp/docker.sock');
    },
    onDown: (error) => reports.push(`down: ${error}`),
    onUp: (downForMs) => reports.push(`up after ${downForMs} ms`),
  });
  return { monitor, engine, reports };
}

describe('EngineMonitor', () => {
  it('checks every 5 s while the engine is up, reporting nothing', async () => {
    const clock = new FakeClock(0);
    const { monitor, engine, reports } = monitorWith(clock);
    monitor.start();
    await clock.advance(15_000);
    expect(engine.pings).toEqual([5_000, 10_000, 15_000]);
    expect(reports).toEqual([]);
    expect(monitor.state()).toEqual({ reachable: true, since: 0 });
    monitor.stop();
  });

  it('reports an outage once, retries with a growing delay, and reports the return once', async () => {
    const clock = new FakeClock(0);
    const { monitor, engine, reports } = monitorWith(clock);
    monitor.start();
    engine.up = false;
    await clock.advance(5_000);
    expect(reports).toEqual(['down: connect ENOENT /tmp/docker.sock']);
    expect(monitor.state()).toEqual({ reachable: false, error: 'connect ENOENT /tmp/docker.sock', since: 5_000 });
    await clock.advance(10_000);
    // 250, 500, 1000, 2000, 4000 (the cap), 4000 ms after each failed check.
    expect(engine.pings.map((at) => at - 5_000)).toEqual([0, 250, 750, 1_750, 3_750, 7_750]);
    expect(reports).toHaveLength(1);

    engine.up = true;
    await clock.advance(4_000);
    expect(reports).toEqual(['down: connect ENOENT /tmp/docker.sock', 'up after 11750 ms']);
    expect(monitor.state()).toEqual({ reachable: true, since: 16_750 });
    monitor.stop();
  });

  it('answers a fresh check on demand (for /healthz) and reports the transition it finds', async () => {
    const clock = new FakeClock(0);
    const { monitor, engine, reports } = monitorWith(clock);
    engine.up = false;
    expect(await monitor.check()).toMatchObject({ reachable: false });
    expect(await monitor.check()).toMatchObject({ reachable: false });
    engine.up = true;
    expect(await monitor.check()).toMatchObject({ reachable: true });
    expect(reports).toEqual(['down: connect ENOENT /tmp/docker.sock', 'up after 0 ms']);
  });
});
