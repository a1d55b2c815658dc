import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { decideInstances } from '../../../src/controller/scaling.js';
import { sumOutcomes } from '../../../src/daemon/shared-routes/activity-merge.js';
import { PublishingProxy } from '../../../src/daemon/shared-routes/publishing-proxy.js';
import type { ActivitySnapshot } from '../../../src/proxy/management.js';
import { emptyCounts, type OutcomeCounts } from '../../../src/proxy/revision-outcomes.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';

// What the leader's controller reads through PublishingProxy: its own proxy's view with the
// other controllers' proxies' reports added (the reports stand in for activity-exchange.ts,
// whose database side test/integration/daemon/shared-routes.test.ts drives).

const NOW = 1_000_000;
const IDLE_MS = 60_000;

function leaderWith(others: Map<string, ActivitySnapshot[]>, othersOutcomes: Record<string, OutcomeCounts> = {}) {
  const local = new FakeProxy();
  const reads = {
    othersActivity: (service: string) => others.get(service) ?? [],
    outcomes: (own: Record<string, OutcomeCounts>) => sumOutcomes([own, othersOutcomes]),
  };
  const noWrites = {} as pg.Pool;
  const proxy = new PublishingProxy(local, noWrites, () => () => Promise.resolve(), reads);
  return { local, proxy };
}

describe('PublishingProxy reads', () => {
  it('keeps a project up while only another proxy serves it, and idles it once that stops', async () => {
    const others = new Map<string, ActivitySnapshot[]>([
      ['app', [{ lastActivityAt: NOW - 1_000, inFlight: 0, waiting: 0 }]],
    ]);
    const { local, proxy } = leaderWith(others);
    await local.deploy({ service: 'app', hosts: ['app.test'], targets: ['10.0.0.1:8080'] });
    // The leader's own proxy last saw the project long ago.
    local.setActivity('app', { lastActivityAt: NOW - 2 * IDLE_MS, inFlight: 0, waiting: 0 });
    const decide = async () =>
      decideInstances({
        minInstances: 0,
        maxInstances: 10,
        targetConcurrency: 2,
        idleTimeoutMs: IDLE_MS,
        activity: (await proxy.getService('app'))?.activity,
        serving: 1,
        servingSince: NOW - 3 * IDLE_MS,
        now: NOW,
      });
    expect((await decide()).reason).toBe('recent-activity');
    expect((await local.getService('app'))?.activity.lastActivityAt).toBe(NOW - 2 * IDLE_MS);

    others.set('app', [
      { lastActivityAt: NOW - 500, inFlight: 5, waiting: 1 },
      { inFlight: 3, waiting: 0 },
    ]);
    expect((await proxy.listServices())[0]?.activity).toEqual({ lastActivityAt: NOW - 500, inFlight: 8, waiting: 1 });
    expect(await decide()).toMatchObject({ desired: 5, reason: 'concurrency' });

    others.delete('app');
    expect((await decide()).reason).toBe('idle');
  });

  it('judges a revision on every proxy’s answers', async () => {
    const theirs = { ...emptyCounts(), requests: 4, errors: 3 };
    const { local, proxy } = leaderWith(new Map(), { 'app-2': theirs });
    local.outcomes.set('app-2', { ...emptyCounts(), requests: 6, errors: 0 });
    const outcomes = await proxy.revisionOutcomes();
    expect(outcomes['app-2']).toMatchObject({ requests: 10, errors: 3 });
  });

  it('knows no service its own proxy does not hold', async () => {
    const { proxy } = leaderWith(new Map([['ghost', [{ inFlight: 1, waiting: 0 }]]]));
    expect(await proxy.getService('ghost')).toBeUndefined();
  });
});
