import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/logger.js';
import { ManagementServer } from './management-server.js';
import { ProxyServer } from './proxy-server.js';
import type { TlsProxy } from './tls/tls-proxy.js';

// `luma proxy run`: the proxy on its own, steered through its management socket. Its
// route table lives in its state file, so a restart serves what it served before.

export interface ProxyDaemonOptions {
  listenHost: string;
  listenPort: number;
  socketPath: string;
  stateFile: string;
  drainTimeoutMs?: number;
  logger: Logger;
  /** The HTTPS listener; TLS is off without it. */
  https?: { host: string; port: number; stateDir: string; acmeDirectory?: string; certificatesDir?: string };
}

export interface RunningProxy {
  port: number;
  httpsPort?: number;
  restoredServices: number;
  stop(): Promise<void>;
}

export function defaultProxyPaths(stateDir: string): { socketPath: string; stateFile: string } {
  return { socketPath: path.join(stateDir, 'proxy', 'proxy.sock'), stateFile: path.join(stateDir, 'proxy', 'routes.json') };
}

/** The TLS layer and its ACME client are loaded only when HTTPS is on: they take seconds to import on a busy machine. */
export function loadTls(): Promise<typeof import('./tls/tls-proxy.js')> {
  return import('./tls/tls-proxy.js');
}

export async function runProxyDaemon(options: ProxyDaemonOptions): Promise<RunningProxy> {
  const proxy = new ProxyServer({
    logger: options.logger,
    stateFile: options.stateFile,
    ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
  });
  const { https } = options;
  const tls = https ? await loadTls() : undefined;
  const tlsProxy = https && tls
    ? new tls.TlsProxy(proxy, {
        tlsDir: tls.defaultTlsDir(https.stateDir),
        logger: options.logger,
        ...(https.acmeDirectory ? { acmeDirectory: https.acmeDirectory } : {}),
        ...(https.certificatesDir ? { certificatesDir: https.certificatesDir } : {}),
      })
    : undefined;
  const front = tlsProxy ?? proxy;
  const restoredServices = await front.restore();
  const management = new ManagementServer(front, options.logger);
  front.setHooks(management);
  await mkdir(path.dirname(options.socketPath), { recursive: true, mode: 0o700 });
  await management.listen(options.socketPath);
  const address = await proxy.listen(options.listenHost, options.listenPort);
  const httpsPort = tlsProxy && https ? (await tlsProxy.listen(https.host, https.port)).port : undefined;
  options.logger.info({ port: address.port, httpsPort, socket: options.socketPath, restoredServices, acmeDirectory: tlsProxy?.directoryUrl }, 'proxy is up');
  let stopping: Promise<void> | undefined;
  return {
    port: address.port,
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    restoredServices,
    stop: () => {
      stopping ??= (async () => {
        // The public side stops accepting at once, while the management side lets its clients go.
        await Promise.all([management.close(), front.close()]);
      })();
      return stopping;
    },
  };
}
