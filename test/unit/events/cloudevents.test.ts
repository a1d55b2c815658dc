import { describe, expect, it } from 'vitest';
import { toCloudEvent } from '../../../src/events/cloudevents.js';
import { MemoryEventLog } from '../../../src/events/event-log.js';
import { CONDITION_EVENT_SOURCE } from '../../../src/events/condition-events.js';
import { attachLifecycleWebhooks, hostnameOf } from '../../../src/events/lifecycle-webhooks.js';
import { WebhookDispatcher, type WebhookSender } from '../../../src/events/webhooks.js';
import type { LeaseObject, ProjectObject } from '../../../src/model/types.js';
import { silentLogger } from '../../../src/util/logger.js';

// Which events become CloudEvents, what they carry, and the hostname of their object.

const project = {
  apiVersion: 'luma.dev/v1alpha1',
  kind: 'Project',
  metadata: { name: 'web' },
  spec: { image: 'web', hostnames: ['web.example.com', 'www.example.com'] },
} as ProjectObject;
const lease = {
  apiVersion: 'luma.dev/v1alpha1',
  kind: 'Lease',
  metadata: { name: 'alice' },
  spec: { project: 'web', ttl: '10m' },
} as LeaseObject;
const store = {
  get: ((kind: string, name: string) =>
    kind === 'Project' && name === 'web' ? project : kind === 'Lease' && name === 'alice' ? lease : undefined) as never,
};

describe('lifecycle CloudEvents', () => {
  it('maps lifecycle reasons to CloudEvent types and leaves other events out', () => {
    const log = new MemoryEventLog({ now: () => Date.parse('2026-01-01T00:00:00Z') });
    const ready = log.record(
      'controller',
      { kind: 'Project', name: 'web' },
      'Normal',
      'ContainerReady',
      'container x ready',
    );
    const built = log.record('controller', { kind: 'Image', name: 'web' }, 'Warning', 'BuildFailed', 'no Dockerfile');
    const waiting = log.record(
      'controller',
      { kind: 'Lease', name: 'alice' },
      'Normal',
      'WaitingForCapacity',
      'cap reached',
    );

    expect(toCloudEvent(ready, { instance: 'prod', hostname: 'web.example.com' })).toEqual({
      specversion: '1.0',
      id: `prod-2026-01-01T00:00:00.000Z-${ready.seq}`,
      source: '/luma/prod',
      type: 'dev.luma.container.ready',
      subject: 'project/web',
      time: '2026-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      data: {
        kind: 'Project',
        name: 'web',
        reason: 'ContainerReady',
        message: 'container x ready',
        eventType: 'Normal',
        hostname: 'web.example.com',
      },
    });
    expect(toCloudEvent(built, { instance: 'prod', hostname: undefined })).toMatchObject({
      type: 'dev.luma.image.build.finished',
      data: { reason: 'BuildFailed', eventType: 'Warning' },
    });
    expect(toCloudEvent(waiting, { instance: 'prod', hostname: undefined })).toBeUndefined();
  });

  it("names a project's first hostname and a lease's own", () => {
    expect(hostnameOf(store, { kind: 'Project', name: 'web' })).toBe('web.example.com');
    expect(hostnameOf(store, { kind: 'Lease', name: 'alice' })).toBe('alice.web.example.com');
    expect(hostnameOf(store, { kind: 'Lease', name: 'gone' })).toBeUndefined();
    expect(hostnameOf(store, { kind: 'Image', name: 'web' })).toBeUndefined();
  });

  it('hands every recorded lifecycle event to the dispatcher as it is recorded, until detached', async () => {
    const log = new MemoryEventLog();
    const sent: string[] = [];
    const send: WebhookSender = async (_url, event) => {
      sent.push(`${event.type} ${event.data.hostname ?? '-'}`);
      return 200;
    };
    const dispatcher = new WebhookDispatcher(
      { urls: ['http://hook.test/'], queueSize: 10, maxAttempts: 1, retryDelayMs: 1, timeoutMs: 1 },
      { logger: silentLogger(), send },
    );
    const detach = attachLifecycleWebhooks(log, store, dispatcher, 'prod');
    log.record('controller', { kind: 'Project', name: 'web' }, 'Normal', 'ContainerStarted', 'started');
    log.record('controller', { kind: 'Project', name: 'web' }, 'Normal', 'PoolRefilled', 'not a lifecycle event');
    log.record('controller', { kind: 'Lease', name: 'alice' }, 'Normal', 'Expired', 'expired');
    // The same expiry retold from the lease's conditions is not sent again.
    log.record(CONDITION_EVENT_SOURCE, { kind: 'Lease', name: 'alice' }, 'Normal', 'Expired', 'ended');
    detach();
    log.record('controller', { kind: 'Project', name: 'web' }, 'Normal', 'ContainerStopped', 'after detaching');
    for (let i = 0; i < 20; i++) await Promise.resolve();

    expect(sent).toEqual([
      'dev.luma.container.started web.example.com',
      'dev.luma.lease.expired alice.web.example.com',
    ]);
  });
});
