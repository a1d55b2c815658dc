import { rm } from 'node:fs/promises';
import net from 'node:net';

// A Unix socket in front of the Docker engine's that counts the API calls going through
// it: point a process at it with DOCKER_HOST=unix://PATH and read how many calls it made,
// by endpoint (container ids and names folded into ":id"). Requests are found by their
// request lines on the client's side of each connection.

const REQUEST_LINE = /(?:^|\r\n)(GET|POST|PUT|DELETE|HEAD) (\/[^ ?\r\n]*)[^ \r\n]* HTTP\/1\.[01]\r\n/g;

export interface CountingSocket {
  path: string;
  /** Calls since the last reset, by "METHOD /endpoint". */
  counts(): Map<string, number>;
  total(): number;
  reset(): void;
  close(): Promise<void>;
}

/** "/v1.47/containers/3f2a…/start" → "/containers/:id/start". */
export function endpointOf(urlPath: string): string {
  const path = urlPath.replace(/^\/v\d+\.\d+/, '');
  return path.replace(
    /^\/(containers|images|exec|networks|volumes)\/(?!json$|create$|prune$|load$|build$)[^/]+/,
    '/$1/:id',
  );
}

export async function startCountingSocket(
  path: string,
  engineSocket = '/var/run/docker.sock',
): Promise<CountingSocket> {
  await rm(path, { force: true });
  let counts = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const engine = net.connect(engineSocket);
    sockets.add(client);
    sockets.add(engine);
    let carry = '';
    client.on('data', (chunk: Buffer) => {
      // A request line may be split across chunks: keep the tail of the last one.
      const text = carry + chunk.toString('latin1');
      for (const match of text.matchAll(REQUEST_LINE)) {
        const key = `${match[1]} ${endpointOf(match[2] ?? '')}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const lastBreak = text.lastIndexOf('\r\n');
      carry = lastBreak >= 0 ? text.slice(lastBreak) : text.slice(-512);
    });
    client.pipe(engine).pipe(client);
    const close = (): void => {
      client.destroy();
      engine.destroy();
      sockets.delete(client);
      sockets.delete(engine);
    };
    client.on('error', close);
    engine.on('error', close);
    client.on('close', close);
    engine.on('close', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    counts: () => new Map(counts),
    total: () => [...counts.values()].reduce((sum, count) => sum + count, 0),
    reset: () => {
      counts = new Map();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(path, { force: true });
    },
  };
}
