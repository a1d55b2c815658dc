import { loadSettings, type OperatorSettings } from '../config/settings.js';
import { ProxyServer, type ClientLimits } from '../proxy/proxy-server.js';
import { loadTls } from '../proxy/daemon.js';
import { createLogger } from '../util/logger.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { PrometheusProxyMetrics } from '../metrics/proxy-metrics.js';
import { publicUrlFor, startControlPlane } from './control-plane.js';
import { parseListenAddress } from './listen-address.js';
import { defaultProxyPaths } from '../proxy/paths.js';
import { holdingLock, lockStateDirs } from '../util/state-lock.js';

// `luma up`: everything in one process on the embedded default. The proxy runs
// in-process behind the same management interface its daemon serves on a socket.
// Containers are left running on shutdown; the next start adopts them.

export interface UpOptions {
  manifests: string;
  stateDir: string;
  listen: string;
  apiListen: string;
  config?: string;
  /** Public HTTPS listener; TLS is off without it. */
  httpsListen?: string;
  acmeDirectory?: string;
  /** Operator-provided certificates (HOST.crt, HOST.key). */
  certificatesDir?: string;
  /** Contact address of the ACME account (the in-process proxy has no socket for set-global-option). */
  letsEncryptEmail?: string;
  /** `--force-prune`: the watched directory prunes without its guards. */
  forcePrune?: boolean;
  /** The proxy's client deadlines and connection cap; PROXY_DEFAULTS for what is absent. */
  proxyLimits?: Partial<ClientLimits>;
}

export interface RunningLuma {
  proxyPort: number;
  apiPort: number;
  httpsPort?: number;
  settings: OperatorSettings;
  stop(): Promise<void>;
}

/**
 * Starts Luma once it holds both locks of the state directory, the control plane's and
 * the proxy's: neither another `luma up` nor a `luma controller` or `luma proxy run` may
 * share it, and a refused start has touched nothing.
 */
export async function startLuma(options: UpOptions): Promise<RunningLuma> {
  const lock = await lockStateDirs(
    [
      { dir: options.stateDir, role: 'control-plane' },
      { dir: defaultProxyPaths(options.stateDir).dir, role: 'proxy' },
    ],
    'luma up',
  );
  return holdingLock(lock, () => startLocked(options));
}

async function startLocked(options: UpOptions): Promise<RunningLuma> {
  const logger = createLogger();
  const settings = await loadSettings(options.config);
  if (options.forcePrune) settings.sync.forcePrune = true;
  const publicAddress = parseListenAddress(options.listen, '--listen');
  const apiAddress = parseListenAddress(options.apiListen, '--api-listen');
  const httpsAddress = options.httpsListen ? parseListenAddress(options.httpsListen, '--https-listen') : undefined;

  // One process, one registry: the API's /metrics serves the controller's and the proxy's series.
  const metrics = createMetricsRegistry();
  const proxy = new ProxyServer({
    logger: logger.child({ component: 'proxy' }),
    metrics: new PrometheusProxyMetrics(metrics),
    ...options.proxyLimits,
  });
  // With an HTTPS listener, the controller deploys through the TLS layer, which follows
  // which hosts want certificates.
  const tlsModule = httpsAddress ? await loadTls() : undefined;
  const tls = tlsModule
    ? new tlsModule.TlsProxy(proxy, {
        tlsDir: tlsModule.defaultTlsDir(options.stateDir),
        logger,
        ...(options.acmeDirectory ? { acmeDirectory: options.acmeDirectory } : {}),
        ...(options.certificatesDir ? { certificatesDir: options.certificatesDir } : {}),
      })
    : undefined;
  if (options.letsEncryptEmail) await proxy.setGlobalOption('lets-encrypt-email', options.letsEncryptEmail);
  let publicUrl = publicUrlFor(publicAddress.port);
  const controlPlane = await startControlPlane({
    manifests: options.manifests,
    stateDir: options.stateDir,
    apiAddress,
    settings,
    proxy: tls ?? proxy,
    attachHooks: (hooks) => (tls ?? proxy).setHooks(hooks),
    // The ports are known only after listening; the proxy listens right after.
    publicUrl: (host, secure) => publicUrl(host, secure),
    logger,
    metrics,
  });
  let proxyPort: number;
  let httpsPort: number | undefined;
  try {
    proxyPort = (await proxy.listen(publicAddress.host, publicAddress.port)).port;
    if (tls && httpsAddress) httpsPort = (await tls.listen(httpsAddress.host, httpsAddress.port)).port;
  } catch (error) {
    await (tls ?? proxy).close();
    await controlPlane.stop();
    throw error;
  }
  publicUrl = publicUrlFor(proxyPort, httpsPort);
  logger.info(
    {
      proxyPort,
      httpsPort,
      apiPort: controlPlane.apiPort,
      stateDir: options.stateDir,
      instance: settings.instance,
      acmeDirectory: tls?.directoryUrl,
    },
    'luma is up',
  );

  let stopping: Promise<void> | undefined;
  return {
    proxyPort,
    apiPort: controlPlane.apiPort,
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    settings,
    stop: () => {
      stopping ??= (async () => {
        await (tls ?? proxy).close();
        await controlPlane.stop();
        logger.flush();
      })();
      return stopping;
    },
  };
}
