import { loadSettings, type OperatorSettings } from '../config/settings.js';
import { ProxyServer, type ClientLimits } from '../proxy/proxy-server.js';
import { loadTls } from '../proxy/daemon.js';
import { createLogger, type Logger } from '../util/logger.js';
import type { Registry } from 'prom-client';
import { createMetricsRegistry } from '../metrics/registry.js';
import { PrometheusProxyMetrics } from '../metrics/proxy-metrics.js';
import { publicUrlFor, startControlPlane } from './control-plane.js';
import type { RuntimeChoice } from '../runtime/select-runtime.js';
import { parseListenAddress } from './listen-address.js';
import { defaultProxyPaths } from '../proxy/paths.js';
import { holdingLock, lockStateDirs } from '../util/state-lock.js';

// `luma up`: everything in one process on the embedded default. The proxy runs
// in-process behind the same management interface its daemon serves on a socket.
// Containers are left running on shutdown; the next start adopts them.

export interface UpOptions {
  manifests: string;
  stateDir: string;
  /** `--store`: a postgres:// URL shared with other controllers; the state directory's files when absent. */
  store?: string;
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
  /** `--secret-key-file`: the operator's key for Secrets at rest; STATE_DIR/secret-key when absent. */
  secretKeyFile?: string;
  /** `--runtime`, `--registry`: which driver runs the apps. */
  engine?: RuntimeChoice;
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
  const { proxy, tls, front } = await createProxy(options, httpsAddress !== undefined, logger, metrics);
  let publicUrl = publicUrlFor(publicAddress.port);
  const controlPlane = await startControlPlane({
    manifests: options.manifests,
    stateDir: options.stateDir,
    ...(options.secretKeyFile !== undefined ? { secretKeyFile: options.secretKeyFile } : {}),
    ...(options.store ? { store: options.store } : {}),
    apiAddress,
    settings,
    proxy: front,
    attachHooks: (hooks) => front.setHooks(hooks),
    // The ports are known only after listening; the proxy listens right after.
    publicUrl: (host, secure) => publicUrl(host, secure),
    logger,
    ...(options.engine ? { engine: options.engine } : {}),
    metrics,
  });
  let ports: { proxyPort: number; httpsPort?: number };
  try {
    const proxyPort = (await proxy.listen(publicAddress.host, publicAddress.port)).port;
    const httpsPort = tls && httpsAddress ? (await tls.listen(httpsAddress.host, httpsAddress.port)).port : undefined;
    ports = { proxyPort, httpsPort };
  } catch (error) {
    await front.close();
    await controlPlane.stop();
    throw error;
  }
  publicUrl = publicUrlFor(ports.proxyPort, ports.httpsPort);
  const { stateDir } = options;
  const acmeDirectory = tls?.directoryUrl;
  logger.info(
    { ...ports, apiPort: controlPlane.apiPort, stateDir, instance: settings.instance, acmeDirectory },
    'luma is up',
  );

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await front.close();
    await controlPlane.stop();
    logger.flush();
  };
  return { ...ports, apiPort: controlPlane.apiPort, settings, stop: () => (stopping ??= stop()) };
}

import type { TlsProxy } from '../proxy/tls/tls-proxy.js';

/**
 * The in-process proxy and, with an HTTPS listener, the TLS layer in front of it: the
 * controller deploys through `front`, which follows which hosts want certificates.
 */
async function createProxy(
  options: UpOptions,
  https: boolean,
  logger: Logger,
  metrics: Registry,
): Promise<{ proxy: ProxyServer; tls?: TlsProxy; front: ProxyServer | TlsProxy }> {
  const proxy = new ProxyServer({
    logger: logger.child({ component: 'proxy' }),
    metrics: new PrometheusProxyMetrics(metrics),
    ...options.proxyLimits,
  });
  const tlsModule = https ? await loadTls() : undefined;
  const tls = tlsModule
    ? new tlsModule.TlsProxy(proxy, {
        tlsDir: tlsModule.defaultTlsDir(options.stateDir),
        logger,
        ...(options.acmeDirectory ? { acmeDirectory: options.acmeDirectory } : {}),
        ...(options.certificatesDir ? { certificatesDir: options.certificatesDir } : {}),
      })
    : undefined;
  if (options.letsEncryptEmail) await proxy.setGlobalOption('lets-encrypt-email', options.letsEncryptEmail);
  return tls ? { proxy, tls, front: tls } : { proxy, front: proxy };
}
