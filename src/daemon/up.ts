import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApiServer, type HealthReport } from '../api/server.js';
import { applyDocuments, parseFiles } from '../apply/apply.js';
import { loadSettings, type OperatorSettings } from '../config/settings.js';
import { Controller } from '../controller/controller.js';
import { ManifestError } from '../model/parse.js';
import { ProxyServer } from '../proxy/proxy-server.js';
import { DockerRuntime } from '../runtime/docker-runtime.js';
import { errorMessage } from '../runtime/errors.js';
import { FileStore } from '../store/file-store.js';
import { createLogger, type Logger } from '../util/logger.js';
import { findManifestFiles } from '../util/manifest-files.js';
import { parseListenAddress } from './listen-address.js';

// `luma up`: everything in one process on the embedded default — file store, controller,
// in-process proxy and API. Containers are left running on shutdown; the next start
// adopts them.

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

const DOCKER_HEALTH_INTERVAL_MS = 5_000;

async function manifestFiles(dir: string): Promise<string[]> {
  const info = await stat(dir).catch(() => undefined);
  return info?.isDirectory() ? findManifestFiles(dir) : [];
}

/** One bad file is reported and skipped; it never blocks the others. */
async function applyManifestDirectory(store: FileStore, dir: string, logger: Logger): Promise<void> {
  for (const file of await manifestFiles(dir)) {
    try {
      const documents = parseFiles([{ path: path.relative(process.cwd(), file) || file, content: await readFile(file, 'utf8') }]);
      for (const applied of await applyDocuments(store, documents)) {
        logger.info({ file, kind: applied.kind, name: applied.name, result: applied.result }, 'applied manifest');
      }
    } catch (error) {
      const message = error instanceof ManifestError ? error.message : errorMessage(error);
      logger.error({ file }, `skipped manifest: ${message}`);
      process.stderr.write(`luma: skipped ${file}:\n${message}\n`);
    }
  }
}

export async function startLuma(options: UpOptions): Promise<RunningLuma> {
  const logger = createLogger();
  const settings = await loadSettings(options.config);
  const publicAddress = parseListenAddress(options.listen, '--listen');
  const apiAddress = parseListenAddress(options.apiListen, '--api-listen');

  const runtime = new DockerRuntime({ instance: settings.instance });
  await runtime.ping();

  const store = await FileStore.open(options.stateDir);
  await applyManifestDirectory(store, options.manifests, logger);

  const proxy = new ProxyServer({ logger: logger.child({ component: 'proxy' }) });
  const proxyAddress = await proxy.listen(publicAddress.host, publicAddress.port);
  const publicPort = proxyAddress.port;
  const publicUrl = (host: string): string => (publicPort === 80 ? `http://${host}/` : `http://${host}:${publicPort}/`);

  const controller = new Controller({
    store,
    runtime,
    proxy,
    logger: logger.child({ component: 'controller' }),
    publicUrl,
    resyncIntervalMs: settings.resyncIntervalMs,
    defaultIdleTimeoutMs: settings.defaultIdleTimeoutMs,
    stopTimeoutSeconds: settings.stopTimeoutSeconds,
  });
  proxy.setHooks(controller);
  await controller.start();

  let docker: HealthReport['docker'] = { reachable: true };
  const checkDocker = async (): Promise<HealthReport['docker']> => {
    try {
      await runtime.ping();
      docker = { reachable: true };
    } catch (error) {
      docker = { reachable: false, error: errorMessage(error) };
    }
    return docker;
  };
  const dockerTimer = setInterval(() => void checkDocker(), DOCKER_HEALTH_INTERVAL_MS);
  dockerTimer.unref();

  const api: FastifyInstance = await createApiServer({
    store,
    logger: logger.child({ component: 'api' }),
    health: async () => {
      const current = await checkDocker();
      return { status: current.reachable ? 'ok' : 'degraded', docker: current };
    },
    dockerState: () => docker,
  });
  await api.listen({ host: apiAddress.host, port: apiAddress.port });
  const apiPort = (api.server.address() as { port: number }).port;
  logger.info({ proxy: proxyAddress, apiPort, stateDir: options.stateDir, instance: settings.instance }, 'luma is up');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(dockerTimer);
      await api.close();
      await controller.stop();
      await proxy.close();
      await store.close();
      logger.flush();
    })();
    return stopping;
  };
  return { proxyPort: publicPort, apiPort, settings, stop };
}
