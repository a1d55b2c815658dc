import { loadSettings, type OperatorSettings } from '../config/settings.js';
import { ProxyServer } from '../proxy/proxy-server.js';
import { createLogger } from '../util/logger.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { PrometheusProxyMetrics } from '../metrics/proxy-metrics.js';
import { publicUrlFor, startControlPlane } from './control-plane.js';
import { parseListenAddress } from './listen-address.js';

// `luma up`: everything in one process on the embedded default. The proxy runs
// in-process behind the same management interface its daemon serves on a socket.
// Containers are left running on shutdown; the next start adopts them.

export interface UpOptions {
  manifests: string;
  stateDir: string;
  listen: string;
  apiListen: string;
  config?: string;
}

export interface RunningLuma {
  proxyPort: number;
  apiPort: number;
  settings: OperatorSettings;
  stop(): Promise<void>;
}

export async function startLuma(options: UpOptions): Promise<RunningLuma> {
  const logger = createLogger();
  const settings = await loadSettings(options.config);
  const publicAddress = parseListenAddress(options.listen, '--listen');
  const apiAddress = parseListenAddress(options.apiListen, '--api-listen');

  // One process, one registry: the API's /metrics serves the controller's and the proxy's series.
  const metrics = createMetricsRegistry();
  const proxy = new ProxyServer({ logger: logger.child({ component: 'proxy' }), metrics: new PrometheusProxyMetrics(metrics) });
  let publicUrl = publicUrlFor(publicAddress.port);
  const controlPlane = await startControlPlane({
    manifests: options.manifests,
    stateDir: options.stateDir,
    apiAddress,
    settings,
    proxy,
    attachHooks: (hooks) => proxy.setHooks(hooks),
    // The port is known only after listening; the proxy listens right after.
    publicUrl: (host) => publicUrl(host),
    logger,
    metrics,
  });
  let proxyPort: number;
  try {
    proxyPort = (await proxy.listen(publicAddress.host, publicAddress.port)).port;
  } catch (error) {
    await controlPlane.stop();
    throw error;
  }
  publicUrl = publicUrlFor(proxyPort);
  logger.info({ proxyPort, apiPort: controlPlane.apiPort, stateDir: options.stateDir, instance: settings.instance }, 'luma is up');

  let stopping: Promise<void> | undefined;
  return {
    proxyPort,
    apiPort: controlPlane.apiPort,
    settings,
    stop: () => {
      stopping ??= (async () => {
        await proxy.close();
        await controlPlane.stop();
        logger.flush();
      })();
      return stopping;
    },
  };
}
