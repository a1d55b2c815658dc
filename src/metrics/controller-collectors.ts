import { Counter, Gauge, type Registry } from 'prom-client';
import type { ObjectStore } from '../store/store.js';
import type { UsageRecord } from '../usage/record.js';
import type { WebhookStats } from '../events/webhooks.js';

// State Luma already keeps, read when Prometheus scrapes rather than counted as it
// changes: instances by state and pools (project status), leases by phase (lease
// objects), images by phase, the work queue's depth, and what ended leases cost (the
// usage ledger, which survives restarts, so its sums never go back).

export interface ControllerStateSources {
  store: Pick<ObjectStore, 'list'>;
  usage: { records(): readonly UsageRecord[] };
  queueDepth: () => number;
}

export function registerControllerCollectors(registry: Registry, sources: ControllerStateSources): void {
  const registers = [registry];
  const { store } = sources;

  new Gauge({
    name: 'luma_instances',
    help: 'Instances of each project by state (running, starting, paused, stopped), as its last reconcile saw them.',
    labelNames: ['project', 'state'],
    registers,
    collect() {
      this.reset();
      for (const project of store.list('Project')) {
        const instances = project.status?.instances ?? { running: 0, starting: 0, paused: 0, stopped: 0 };
        for (const [state, count] of Object.entries(instances))
          this.set({ project: project.metadata.name, state }, count);
      }
    },
  });

  new Gauge({
    name: 'luma_pool_instances',
    help: "Containers in each project's lease pool by state (ready, starting), and its declared size.",
    labelNames: ['project', 'state'],
    registers,
    collect() {
      this.reset();
      for (const project of store.list('Project')) {
        const pool = project.status?.pool;
        if (!pool) continue;
        const name = project.metadata.name;
        this.set({ project: name, state: 'ready' }, pool.ready);
        this.set({ project: name, state: 'starting' }, pool.starting);
        this.set({ project: name, state: 'desired' }, pool.size);
      }
    },
  });

  new Gauge({
    name: 'luma_leases',
    help: 'Lease objects by project and phase (Pending, Active, Expired, Released, Failed).',
    labelNames: ['project', 'phase'],
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, { project: string; phase: string; count: number }>();
      for (const lease of store.list('Lease')) {
        const phase = lease.status?.phase ?? 'Pending';
        const key = `${lease.spec.project}\u0000${phase}`;
        const entry = counts.get(key) ?? { project: lease.spec.project, phase, count: 0 };
        entry.count++;
        counts.set(key, entry);
      }
      for (const { project, phase, count } of counts.values()) this.set({ project, phase }, count);
    },
  });

  new Gauge({
    name: 'luma_images',
    help: 'Image objects by phase (Pending, Building, Ready, Failed).',
    labelNames: ['phase'],
    registers,
    collect() {
      this.reset();
      for (const phase of ['Pending', 'Building', 'Ready', 'Failed']) this.set({ phase }, 0);
      for (const image of store.list('Image')) this.inc({ phase: image.status?.phase ?? 'Pending' });
    },
  });

  new Gauge({
    name: 'luma_work_queue_depth',
    help: 'Objects waiting to be reconciled.',
    registers,
    collect() {
      this.set(sources.queueDepth());
    },
  });

  new Counter({
    name: 'luma_leases_ended_total',
    help: 'Ended leases by project and reason, from the usage ledger.',
    labelNames: ['project', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const record of sources.usage.records()) this.inc({ project: record.project, reason: record.reason });
    },
  });

  new Counter({
    name: 'luma_lease_cost_total',
    help: 'What ended leases cost, by project and currency, from the usage ledger.',
    labelNames: ['project', 'currency'],
    registers,
    collect() {
      this.reset();
      for (const record of sources.usage.records())
        this.inc({ project: record.project, currency: record.currency }, record.cost);
    },
  });

  new Counter({
    name: 'luma_lease_runtime_seconds_total',
    help: 'How long ended leases ran, by project, from the usage ledger.',
    labelNames: ['project'],
    registers,
    collect() {
      this.reset();
      for (const record of sources.usage.records()) this.inc({ project: record.project }, record.runtimeSeconds);
    },
  });
}

/** Webhook deliveries per URL (operator-configured, so a bounded label). */
export function registerWebhookCollectors(registry: Registry, stats: () => WebhookStats[]): void {
  const registers = [registry];
  new Gauge({
    name: 'luma_webhook_queue_depth',
    help: 'Lifecycle events waiting to be delivered, per webhook URL.',
    labelNames: ['url'],
    registers,
    collect() {
      this.reset();
      for (const entry of stats()) this.set({ url: entry.url }, entry.queued);
    },
  });
  new Counter({
    name: 'luma_webhook_events_total',
    help: 'Lifecycle events per webhook URL by result: delivered, failed (gave up after every attempt), dropped (queue full).',
    labelNames: ['url', 'result'],
    registers,
    collect() {
      this.reset();
      for (const entry of stats()) {
        this.inc({ url: entry.url, result: 'delivered' }, entry.delivered);
        this.inc({ url: entry.url, result: 'failed' }, entry.failed);
        this.inc({ url: entry.url, result: 'dropped' }, entry.dropped);
      }
    },
  });
  new Counter({
    name: 'luma_webhook_retries_total',
    help: 'Webhook delivery attempts that were retried (an error answer, a network error or a timeout).',
    labelNames: ['url'],
    registers,
    collect() {
      this.reset();
      for (const entry of stats()) this.inc({ url: entry.url }, entry.retries);
    },
  });
}
