import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/logger.js';
import { ManagementServer } from './management-server.js';
import { ProxyServer } from './proxy-server.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { PrometheusProxyMetrics } from '../metrics/proxy-metrics.js';
import { serveMetrics, type MetricsServer } from '../metrics/metrics-server.js';

// `luma proxy run`: the proxy on its own, steered through its management socket. Its
// route table lives in its state file, so a restart serves what it served before.

export interface ProxyDaemonOptions {
  listenHost: string;
  listenPort: number;
  socketPath: string;
  stateFile: string;
  drainTimeoutMs?: number;
  headersTimeoutMs?: number;
  logger: Logger;
  /** Where to serve /metrics (`--metrics-listen`); not served when absent. */
  metricsListen?: { host: string; port: number };
}

export interface RunningProxy {
  port: number;
  /** The /metrics listener's port, when there is one. */
  metricsPort?: number;
  restoredServices: number;
  stop(): Promise<void>;
}

export function defaultProxyPaths(stateDir: string): { socketPath: string; stateFile: string } {
  return { socketPath: path.join(stateDir, 'proxy', 'proxy.sock'), stateFile: path.join(stateDir, 'proxy', 'routes.json') };
}

export async function runProxyDaemon(options: ProxyDaemonOptions): Promise<RunningProxy> {
  const registry = createMetricsRegistry();
  const proxy = new ProxyServer({
    logger: options.logger,
    metrics: new PrometheusProxyMetrics(registry),
    stateFile: options.stateFile,
    ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
    ...(options.headersTimeoutMs !== undefined ? { headersTimeoutMs: options.headersTimeoutMs } : {}),
  });
  const restoredServices = await proxy.restore();
  const management = new ManagementServer(proxy, options.logger);
  proxy.setHooks(management);
  await mkdir(path.dirname(options.socketPath), { recursive: true, mode: 0o700 });
  await management.listen(options.socketPath);
  const address = await proxy.listen(options.listenHost, options.listenPort);
  let metricsServer: MetricsServer | undefined;
  if (options.metricsListen) {
    try {
      metricsServer = await serveMetrics(registry, options.metricsListen.host, options.metricsListen.port);
    } catch (error) {
      await Promise.all([management.close(), proxy.close()]);
      throw error;
    }
  }
  options.logger.info({ port: address.port, socket: options.socketPath, restoredServices }, 'proxy is up');
  let stopping: Promise<void> | undefined;
  return {
    port: address.port,
    ...(metricsServer ? { metricsPort: metricsServer.port } : {}),
    restoredServices,
    stop: () => {
      stopping ??= (async () => {
        // The public side stops accepting at once, while the management side lets its clients go.
        await Promise.all([management.close(), proxy.close(), metricsServer?.close()]);
      })();
      return stopping;
    },
  };
}
