import type { LumaEvent } from './event-log.js';

// Lifecycle events as CloudEvents 1.0 (structured mode, JSON): which of Luma's events a
// webhook receiver hears about, and what it gets. Only lifecycle moments are sent, not
// every event: they are what other systems act on (a container ready, a lease expired,
// a build finished).

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/** Event reason (per kind) → CloudEvent type. */
const LIFECYCLE_TYPES: Record<string, Record<string, string>> = {
  Project: {
    ContainerCreated: 'dev.luma.container.created',
    ContainerStarted: 'dev.luma.container.started',
    ContainerReady: 'dev.luma.container.ready',
    ContainerPaused: 'dev.luma.container.paused',
    ContainerStopped: 'dev.luma.container.stopped',
    RolloutRolledBack: 'dev.luma.rollout.rolledback',
    RolloutSucceeded: 'dev.luma.rollout.succeeded',
  },
  Lease: {
    Started: 'dev.luma.lease.started',
    ClaimedFromPool: 'dev.luma.lease.started',
    Expired: 'dev.luma.lease.expired',
    Released: 'dev.luma.lease.released',
    IdleTimeout: 'dev.luma.lease.ended',
    ContainerLost: 'dev.luma.lease.ended',
    StartFailed: 'dev.luma.lease.ended',
    Failed: 'dev.luma.lease.ended',
  },
  Image: {
    BuildSucceeded: 'dev.luma.image.build.finished',
    BuildFailed: 'dev.luma.image.build.finished',
  },
};

export const LIFECYCLE_EVENT_TYPES: readonly string[] = [
  ...new Set(Object.values(LIFECYCLE_TYPES).flatMap((types) => Object.values(types))),
];

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: {
    kind: string;
    name: string;
    reason: string;
    message: string;
    eventType: 'Normal' | 'Warning';
    /** Where the object is reached through the proxy (a project's first hostname; a lease's own). */
    hostname?: string;
  };
}

export function lifecycleType(event: Pick<LumaEvent, 'object' | 'reason'>): string | undefined {
  return LIFECYCLE_TYPES[event.object.kind]?.[event.reason];
}

/** The CloudEvent for a lifecycle event, or undefined for events that are not sent. */
export function toCloudEvent(
  event: LumaEvent,
  context: { instance: string; hostname: string | undefined },
): CloudEvent | undefined {
  const type = lifecycleType(event);
  if (!type) return undefined;
  const kind = event.object.kind;
  return {
    specversion: '1.0',
    // seq increases with every recorded event, repeats included: unique per installation run.
    id: `${context.instance}-${event.lastTimestamp}-${event.seq}`,
    source: `/luma/${context.instance}`,
    type,
    subject: `${kind.toLowerCase()}/${event.object.name}`,
    time: event.lastTimestamp,
    datacontenttype: 'application/json',
    data: {
      kind,
      name: event.object.name,
      reason: event.reason,
      message: event.message,
      eventType: event.type,
      ...(context.hostname !== undefined ? { hostname: context.hostname } : {}),
    },
  };
}
