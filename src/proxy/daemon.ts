import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/logger.js';
import { ManagementServer } from './management-server.js';
import { ProxyServer, type ClientLimits } from './proxy-server.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { PrometheusProxyMetrics } from '../metrics/proxy-metrics.js';
import { serveMetrics, type MetricsServer } from '../metrics/metrics-server.js';
import { holdingLock, lockStateDir } from '../util/state-lock.js';
import { checkPrivateDirectory } from '../util/private-directory.js';

// `luma proxy run`: the proxy on its own, steered through its management socket. Its
// route table lives in its state file, so a restart serves what it served before.

export interface ProxyDaemonOptions {
  listenHost: string;
  listenPort: number;
  socketPath: string;
  stateFile: string;
  drainTimeoutMs?: number;
  /** The plain-HTTP/1.1 fast path (default on); off, node:http parses every request. */
  fastPath?: boolean;
  /** Deadlines of client connections and the cap on them; PROXY_DEFAULTS for what is absent. */
  limits?: Partial<ClientLimits>;
  logger: Logger;
  /** The HTTPS listener; TLS is off without it. */
  https?: { host: string; port: number; stateDir: string; acmeDirectory?: string; certificatesDir?: string };
  /** Where to serve /metrics (`--metrics-listen`); not served when absent. */
  metricsListen?: { host: string; port: number };
}

export interface RunningProxy {
  port: number;
  httpsPort?: number;
  /** The /metrics listener's port, when there is one. */
  metricsPort?: number;
  restoredServices: number;
  stop(): Promise<void>;
}

export { defaultProxyPaths } from './paths.js';

/** The TLS layer and its ACME client are loaded only when HTTPS is on: they take seconds to import on a busy machine. */
export function loadTls(): Promise<typeof import('./tls/tls-proxy.js')> {
  return import('./tls/tls-proxy.js');
}

/**
 * Starts the proxy once it holds the lock of its directory (the routes file's): a second
 * proxy there is refused before it reads or writes anything.
 */
export async function runProxyDaemon(options: ProxyDaemonOptions): Promise<RunningProxy> {
  const lock = await lockStateDir(path.dirname(options.stateFile), 'proxy', 'luma proxy run');
  return holdingLock(lock, () => startProxyDaemon(options));
}

async function startProxyDaemon(options: ProxyDaemonOptions): Promise<RunningProxy> {
  const registry = createMetricsRegistry();
  const proxy = new ProxyServer({
    logger: options.logger,
    metrics: new PrometheusProxyMetrics(registry),
    stateFile: options.stateFile,
    ...(options.fastPath !== undefined ? { fastPath: options.fastPath } : {}),
    ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
    ...options.limits,
  });
  const { https } = options;
  const tls = https ? await loadTls() : undefined;
  const tlsProxy =
    https && tls
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
  await checkPrivateDirectory(path.dirname(options.socketPath));
  await management.listen(options.socketPath);
  const address = await proxy.listen(options.listenHost, options.listenPort);
  const httpsPort = tlsProxy && https ? (await tlsProxy.listen(https.host, https.port)).port : undefined;
  let metricsServer: MetricsServer | undefined;
  if (options.metricsListen) {
    try {
      metricsServer = await serveMetrics(registry, options.metricsListen.host, options.metricsListen.port);
    } catch (error) {
      await Promise.all([management.close(), front.close()]);
      throw error;
    }
  }
  options.logger.info(
    {
      port: address.port,
      httpsPort,
      socket: options.socketPath,
      restoredServices,
      acmeDirectory: tlsProxy?.directoryUrl,
    },
    'proxy is up',
  );
  let stopping: Promise<void> | undefined;
  return {
    port: address.port,
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    ...(metricsServer ? { metricsPort: metricsServer.port } : {}),
    restoredServices,
    stop: () => {
      stopping ??= (async () => {
        // The public side stops accepting at once, while the management side lets its clients go.
        await Promise.all([management.close(), front.close(), metricsServer?.close()]);
      })();
      return stopping;
    },
  };
}
