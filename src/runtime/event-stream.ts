import type Docker from 'dockerode';

// The engine's event stream, line by line, reconnecting a second after the engine goes
// away or refuses: one loop for the Docker driver's container events and the Swarm
// driver's service events. Events missed while disconnected are the resync's job.

const RECONNECT_MS = 1_000;

type EventFilters = NonNullable<Parameters<Docker['getEvents']>[0]>['filters'];
type EventStream = NodeJS.ReadableStream & { destroy?: () => void };

/** Calls `onLine` with each trimmed line (one JSON event) of the engine's events; returns the stop. */
export function followEngineEvents(docker: Docker, filters: EventFilters, onLine: (line: string) => void): () => void {
  let stopped = false;
  let stream: EventStream | undefined;
  let retry: NodeJS.Timeout | undefined;
  const connect = (): void => {
    if (stopped) return;
    docker.getEvents({ filters }, (error, events) => {
      if (stopped) return void (events as EventStream | undefined)?.destroy?.();
      if (error || !events) return void (retry = setTimeout(connect, RECONNECT_MS));
      stream = events;
      let buffered = '';
      events.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          onLine(line);
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
