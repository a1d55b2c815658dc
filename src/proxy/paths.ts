import path from 'node:path';

// Where the proxy daemon keeps its socket and routes under a state directory. On its own
// so that CLI commands can name the socket without loading the proxy itself.

export interface ProxyPaths {
  /** The proxy's own directory under the state directory: its lock, routes and socket. */
  dir: string;
  socketPath: string;
  stateFile: string;
}

export function defaultProxyPaths(stateDir: string): ProxyPaths {
  const dir = path.join(stateDir, 'proxy');
  return { dir, socketPath: path.join(dir, 'proxy.sock'), stateFile: path.join(dir, 'routes.json') };
}
