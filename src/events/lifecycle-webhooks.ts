import type { ObjectStore } from '../store/store.js';
import { toCloudEvent } from './cloudevents.js';
import { CONDITION_EVENT_SOURCE } from './condition-events.js';
import type { EventLog, EventObjectRef } from './event-log.js';
import type { WebhookDispatcher } from './webhooks.js';

// Connects the event log to the webhook dispatcher: every lifecycle event, with the
// hostname its object is reached at, is handed to the dispatcher as it is recorded.

/** A project's first hostname; a lease's own (`LEASE.<first hostname of its project>`). */
export function hostnameOf(store: Pick<ObjectStore, 'get'>, object: EventObjectRef): string | undefined {
  if (object.kind === 'Project') return store.get('Project', object.name)?.spec.hostnames[0];
  if (object.kind === 'Lease') {
    const lease = store.get('Lease', object.name);
    const projectHost = lease ? store.get('Project', lease.spec.project)?.spec.hostnames[0] : undefined;
    return projectHost ? `${object.name}.${projectHost}` : undefined;
  }
  return undefined;
}

/** Returns the function that detaches them. */
export function attachLifecycleWebhooks(
  events: EventLog,
  store: Pick<ObjectStore, 'get'>,
  dispatcher: WebhookDispatcher,
  instance: string,
): () => void {
  return events.subscribeRecorded((event) => {
    // Readiness retold from status would send a lease's expiry twice.
    if (event.source === CONDITION_EVENT_SOURCE) return;
    const cloudEvent = toCloudEvent(event, { instance, hostname: hostnameOf(store, event.object) });
    if (cloudEvent) dispatcher.dispatch(cloudEvent);
  });
}
