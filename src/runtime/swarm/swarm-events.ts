import type Docker from 'dockerode';
import { LABELS, type OwnerRef } from '../labels.js';

// Engine events that concern Luma's services, reconnecting when the engine goes away.
// A manager reports every service's create, update (a scale, a claim) and remove, but
// containers only of its own node: a task that dies on another node shows at the
// controller's next resync (docs/cluster.md).

const RECONNECT_MS = 1_000;
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
  let stream: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
  let retry: NodeJS.Timeout | undefined;
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
  const connect = (): void => {
    if (stopped) return;
    const filters = {
      type: ['service' as const, 'container' as const],
      event: ['create', 'update', 'remove', ...CONTAINER_ACTIONS],
    };
    source.docker.getEvents({ filters }, (error, events) => {
      if (stopped) return void (events as typeof stream)?.destroy?.();
      if (error || !events) return void (retry = setTimeout(connect, RECONNECT_MS));
      stream = events;
      let buffered = '';
      events.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          handle(buffered.slice(0, newline).trim());
          buffered = buffered.slice(newline + 1);
        }
      });
      const reconnect = (): void => {
        if (stream !== events || stopped) return;
        stream = undefined;
        retry = setTimeout(connect, RECONNECT_MS);
      };
      events.on('end', reconnect);
      events.on('error', reconnect);
    });
  };
  connect();
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    stream?.destroy?.();
  };
}
