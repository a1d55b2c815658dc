import { loadSettings } from '../config/settings.js';
import { ManagementClient } from '../proxy/management-client.js';
import type { ProxyHooks } from '../proxy/management.js';
import { createLogger } from '../util/logger.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { publicUrlFor, startControlPlane } from './control-plane.js';
import type { RuntimeChoice } from '../runtime/select-runtime.js';
import { parseListenAddress } from './listen-address.js';
import { holdingLock, lockStateDir } from '../util/state-lock.js';

// `luma controller`: the control plane in its own process, steering a separately run
// proxy (`luma proxy run`) through its management socket. When the proxy restarts, the
// controller reconnects and re-deploys every route.

export interface ControllerProcessOptions {
  manifests: string;
  stateDir: string;
  /** `--store`: a postgres:// URL shared with other controllers; the state directory's files when absent. */
  store?: string;
  apiListen: string;
  proxySocket: string;
  /** Where the proxy serves the public, only used to write status.url. */
  publicListen: string;
  config?: string;
  /** `--force-prune`: the watched directory prunes without its guards. */
  forcePrune?: boolean;
  /** `--secret-key-file`: the operator's key for Secrets at rest; STATE_DIR/secret-key when absent. */
  secretKeyFile?: string;
  /** `--runtime`, `--registry`: which driver runs the apps. */
  engine?: RuntimeChoice;
}

export interface RunningControllerProcess {
  apiPort: number;
  stop(): Promise<void>;
}

/** Starts the controller once it holds the control plane's lock on the state directory (the proxy's is another). */
export async function startControllerProcess(options: ControllerProcessOptions): Promise<RunningControllerProcess> {
  const lock = await lockStateDir(options.stateDir, 'control-plane', 'luma controller');
  return holdingLock(lock, () => startLocked(options));
}

async function startLocked(options: ControllerProcessOptions): Promise<RunningControllerProcess> {
  const logger = createLogger();
  const settings = await loadSettings(options.config);
  if (options.forcePrune) settings.sync.forcePrune = true;
  const apiAddress = parseListenAddress(options.apiListen, '--api-listen');
  const publicAddress = parseListenAddress(options.publicListen, '--listen');

  let hooks: ProxyHooks | undefined;
  let connectedOnce = false;
  let resync: (() => void) | undefined;
  const client = new ManagementClient({
    socketPath: options.proxySocket,
    hooks: {
      wake: (service, requestId) => hooks?.wake(service, requestId),
      certificateChanged: (service) => hooks?.certificateChanged?.(service),
    },
    onConnected: () => {
      if (connectedOnce) {
        logger.info({ socket: options.proxySocket }, 'reconnected to the proxy; re-deploying every route');
        resync?.();
      }
      connectedOnce = true;
    },
  });
  await client.connect();

  const controlPlane = await startControlPlane({
    manifests: options.manifests,
    stateDir: options.stateDir,
    ...(options.secretKeyFile !== undefined ? { secretKeyFile: options.secretKeyFile } : {}),
    ...(options.store ? { store: options.store } : {}),
    apiAddress,
    settings,
    proxy: client,
    attachHooks: (controller) => {
      hooks = controller;
    },
    publicUrl: publicUrlFor(publicAddress.port),
    logger,
    ...(options.engine ? { engine: options.engine } : {}),
    metrics: createMetricsRegistry(),
  });
  resync = () => controlPlane.controller.requestResync();
  logger.info({ apiPort: controlPlane.apiPort, proxySocket: options.proxySocket }, 'controller is up');
  return {
    apiPort: controlPlane.apiPort,
    stop: async () => {
      await controlPlane.stop();
      client.close();
      logger.flush();
    },
  };
}
