import type Docker from 'dockerode';
import { followEngineEvents } from '../event-stream.js';
import { LABELS, type OwnerRef } from '../labels.js';

// Engine events that concern Luma's services (event-stream.ts reconnects when the engine goes away).
// A manager reports every service's create, update (a scale, a claim) and remove, but
// containers only of its own node: a task that dies on another node shows at the
// controller's next resync (docs/cluster.md).

const CONTAINER_ACTIONS = ['start', 'die', 'stop', 'kill', 'oom', 'destroy'];
const SERVICE_ID_ATTRIBUTE = 'com.docker.swarm.service.id';

interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export interface SwarmEventSource {
  docker: Docker;
  instance: string;
  /** The owner of a service Luma knows; undefined for one it does not (not ours, or never seen). */
  ownerOf(serviceId: string): Promise<OwnerRef | undefined>;
}

async function ownerOfEvent(event: EngineEvent, source: SwarmEventSource): Promise<OwnerRef | undefined> {
  const attributes = event.Actor?.Attributes ?? {};
  if (event.Type === 'service') return event.Actor?.ID ? source.ownerOf(event.Actor.ID) : undefined;
  if (attributes[LABELS.instance] !== source.instance) return undefined;
  const serviceId = attributes[SERVICE_ID_ATTRIBUTE];
  return serviceId ? source.ownerOf(serviceId) : undefined;
}

function parse(line: string): EngineEvent | undefined {
  try {
    return JSON.parse(line) as EngineEvent;
  } catch {
    return undefined;
  }
}

/** Calls back with the owner and action of each event about one of Luma's services; returns the stop. */
export function watchSwarmChanges(
  source: SwarmEventSource,
  onChange: (owner: OwnerRef, action: string) => void,
): () => void {
  let stopped = false;
  const handle = (line: string): void => {
    const event = line ? parse(line) : undefined;
    if (!event?.Action) return;
    const action = event.Action;
    void ownerOfEvent(event, source)
      .then((owner) => {
        if (owner && !stopped) onChange(owner, action);
      })
      .catch(() => undefined);
  };
  const filters = {
    type: ['service' as const, 'container' as const],
    event: ['create', 'update', 'remove', ...CONTAINER_ACTIONS],
  };
  const stopFollowing = followEngineEvents(source.docker, filters, handle);
  return () => {
    stopped = true;
    stopFollowing();
  };
}
