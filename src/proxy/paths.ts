import path from 'node:path';

// Where the proxy daemon keeps its socket and routes under a state directory. On its own
// so that CLI commands can name the socket without loading the proxy itself.

export function defaultProxyPaths(stateDir: string): { socketPath: string; stateFile: string } {
  return { socketPath: path.join(stateDir, 'proxy', 'proxy.sock'), stateFile: path.join(stateDir, 'proxy', 'routes.json') };
}
