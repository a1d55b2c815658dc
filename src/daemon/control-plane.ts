import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ensureApiToken } from '../api/api-token.js';
import { createApiServer, type HealthReport } from '../api/server.js';
import { applyDocuments, parseFiles } from '../apply/apply.js';
import type { OperatorSettings } from '../config/settings.js';
import { Controller } from '../controller/controller.js';
import { EventLog } from '../events/event-log.js';
import { LEASE_FINALIZER } from '../controller/lease-reconciler.js';
import { ManifestError } from '../model/parse.js';
import type { ProxyHooks, ProxyManagement } from '../proxy/management.js';
import { DockerRuntime } from '../runtime/docker-runtime.js';
import { errorMessage } from '../runtime/errors.js';
import { localContextResolver } from '../apply/context-resolvers.js';
import { ContextStore } from '../images/context-store.js';
import { LogHub } from '../logs/log-hub.js';
import { FileStore } from '../store/file-store.js';
import { ledgerPath, UsageLedger } from '../usage/ledger.js';
import type { Logger } from '../util/logger.js';
import { findManifestFiles } from '../util/manifest-files.js';
import type { ListenAddress } from './listen-address.js';
import type { Registry } from 'prom-client';
import { PrometheusControllerMetrics } from '../metrics/prometheus-controller-metrics.js';
import { registerControllerCollectors, registerWebhookCollectors } from '../metrics/controller-collectors.js';
import { WebhookDispatcher } from '../events/webhooks.js';
import { attachLifecycleWebhooks } from '../events/lifecycle-webhooks.js';

// The controller half of Luma: store, Docker runtime, controller and API. `luma up`
// gives it the in-process proxy; `luma controller` gives it a client of the proxy's
// management socket. Either way it only sees the ProxyManagement interface.

export interface ControlPlaneOptions {
  manifests: string;
  stateDir: string;
  apiAddress: ListenAddress;
  settings: OperatorSettings;
  proxy: ProxyManagement;
  /** Connects the proxy's wake requests to the controller. */
  attachHooks: (hooks: ProxyHooks) => void;
  publicUrl: (host: string) => string;
  logger: Logger;
  /** The process's Prometheus registry, served at the API's /metrics (with the proxy's metrics in `luma up`). */
  metrics: Registry;
}

export interface RunningControlPlane {
  apiPort: number;
  controller: Controller;
  /** STATE/usage/ledger.jsonl: the lease reconciler appends what each ended lease cost. */
  ledger: UsageLedger;
  /** What happened to objects, newest last (`luma events`). */
  events: EventLog;
  stop(): Promise<void>;
}

const DOCKER_HEALTH_INTERVAL_MS = 5_000;

async function manifestFiles(dir: string): Promise<string[]> {
  const info = await stat(dir).catch(() => undefined);
  return info?.isDirectory() ? findManifestFiles(dir) : [];
}

/** One bad file is reported and skipped; it never blocks the others. */
async function applyManifestDirectory(store: FileStore, dir: string, contexts: ContextStore, settings: OperatorSettings, logger: Logger): Promise<void> {
  for (const file of await manifestFiles(dir)) {
    try {
      const documents = parseFiles([{ path: path.relative(process.cwd(), file) || file, content: await readFile(file, 'utf8') }]);
      for (const applied of await applyDocuments(store, documents, { settings, resolveContext: localContextResolver(contexts) })) {
        logger.info({ file, kind: applied.kind, name: applied.name, result: applied.result }, 'applied manifest');
      }
    } catch (error) {
      const message = error instanceof ManifestError ? error.message : errorMessage(error);
      logger.error({ file }, `skipped manifest: ${message}`);
      process.stderr.write(`luma: skipped ${file}:\n${message}\n`);
    }
  }
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const { settings, logger } = options;
  const runtime = new DockerRuntime({ instance: settings.instance });
  await runtime.ping();

  const store = await FileStore.open(options.stateDir, { initialFinalizers: { Lease: [LEASE_FINALIZER] } });
  let ledger: UsageLedger;
  try {
    ledger = await UsageLedger.open(ledgerPath(options.stateDir), { onWarning: (message) => logger.warn({ component: 'usage' }, message) });
  } catch (error) {
    await store.close();
    throw error;
  }
  let token: string;
  try {
    token = await ensureApiToken(options.stateDir);
  } catch (error) {
    await ledger.close();
    await store.close();
    throw error;
  }
  const contexts = await new ContextStore(path.join(options.stateDir, 'contexts'), settings.contextLimits).prepare();
  const logs = new LogHub();
  const events = new EventLog();
  const webhooks = new WebhookDispatcher(settings.webhooks, { logger: logger.child({ component: 'webhooks' }) });
  const detachWebhooks = attachLifecycleWebhooks(events, store, webhooks, settings.instance);
  registerWebhookCollectors(options.metrics, () => webhooks.stats());
  await applyManifestDirectory(store, options.manifests, contexts, settings, logger);

  const controller = new Controller({
    store,
    runtime,
    proxy: options.proxy,
    contexts,
    logs,
    instance: settings.instance,
    logger: logger.child({ component: 'controller' }),
    publicUrl: options.publicUrl,
    resyncIntervalMs: settings.resyncIntervalMs,
    defaultIdleTimeoutMs: settings.defaultIdleTimeoutMs,
    stopTimeoutSeconds: settings.stopTimeoutSeconds,
    stoppedRetentionMs: settings.stoppedRetentionMs,
    policy: settings,
    ledger,
    events: events.recorder('controller'),
    metrics: new PrometheusControllerMetrics(options.metrics),
  });
  registerControllerCollectors(options.metrics, { store, usage: ledger, queueDepth: () => controller.queueDepth() });
  options.attachHooks(controller);
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

  const api = await createApiServer({
    store,
    contexts,
    logs,
    runtime,
    logHeartbeatIntervalMs: settings.logHeartbeatIntervalMs,
    maxUploadBytes: settings.maxUploadBytes,
    admission: settings,
    usage: ledger,
    logger: logger.child({ component: 'api' }),
    token,
    health: async () => {
      const current = await checkDocker();
      return { status: current.reachable ? 'ok' : 'degraded', docker: current };
    },
    dockerState: () => docker,
    metrics: options.metrics,
  });
  await api.listen({ host: options.apiAddress.host, port: options.apiAddress.port });
  const apiPort = (api.server.address() as { port: number }).port;

  let stopping: Promise<void> | undefined;
  return {
    apiPort,
    controller,
    ledger,
    events,
    stop: () => {
      stopping ??= (async () => {
        clearInterval(dockerTimer);
        await api.close();
        await controller.stop();
        detachWebhooks();
        webhooks.close();
        await ledger.close();
        await store.close();
      })();
      return stopping;
    },
  };
}

export function publicUrlFor(port: number): (host: string) => string {
  return (host) => (port === 80 ? `http://${host}/` : `http://${host}:${port}/`);
}
