import path from 'node:path';
import { ensureApiToken } from '../api/api-token.js';
import { createApiServer, type HealthReport } from '../api/server.js';
import type { OperatorSettings } from '../config/settings.js';
import { Controller } from '../controller/controller.js';
import { CONDITION_EVENT_SOURCE, ConditionEvents } from '../events/condition-events.js';
import { EventLog } from '../events/event-log.js';
import { LEASE_FINALIZER } from '../controller/lease-reconciler.js';
import { PROJECT_FINALIZER } from '../controller/project-reconciler.js';
import { KINDS } from '../model/types.js';
import type { ProxyHooks, ProxyManagement } from '../proxy/management.js';
import { DockerRuntime } from '../runtime/docker-runtime.js';
import { localContextResolver } from '../apply/context-resolvers.js';
import { ContextStore } from '../images/context-store.js';
import { LogHub } from '../logs/log-hub.js';
import { FileStore } from '../store/file-store.js';
import { ledgerPath, UsageLedger } from '../usage/ledger.js';
import type { Logger } from '../util/logger.js';
import { EngineMonitor } from './engine-monitor.js';
import { DirectorySync } from '../sync/directory-sync.js';
import { InventoryFile } from '../sync/inventory.js';
import { ManifestWatcher } from '../sync/watcher.js';
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
  publicUrl: (host: string, tls?: boolean) => string;
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

export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const { settings, logger } = options;
  const runtime = new DockerRuntime({ instance: settings.instance });
  await runtime.ping();

  const store = await FileStore.open(options.stateDir, {
    initialFinalizers: { Lease: [LEASE_FINALIZER], Project: [PROJECT_FINALIZER] },
  });
  let ledger: UsageLedger;
  try {
    ledger = await UsageLedger.open(ledgerPath(options.stateDir), {
      onWarning: (message) => logger.warn({ component: 'usage' }, message),
    });
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
  // Readiness changes of every object become events (`luma events`, `luma describe`).
  const conditionEvents = new ConditionEvents(events.recorder(CONDITION_EVENT_SOURCE));
  for (const kind of KINDS) conditionEvents.prime(store.list(kind));
  const stopConditionEvents = store.watch((event) => conditionEvents.observe(event));
  const webhooks = new WebhookDispatcher(settings.webhooks, { logger: logger.child({ component: 'webhooks' }) });
  const detachWebhooks = attachLifecycleWebhooks(events, store, webhooks, settings.instance);
  registerWebhookCollectors(options.metrics, () => webhooks.stats());
  // The directory is read once before the controller starts (what it declares exists from
  // the first reconcile on), then followed as it changes.
  const directorySync = new DirectorySync({
    dir: options.manifests,
    store,
    inventory: new InventoryFile(options.stateDir),
    settings: settings.sync,
    admission: settings,
    resolveContext: localContextResolver(contexts),
    events: events.recorder('sync'),
    logger: logger.child({ component: 'sync' }),
  });
  const manifestWatcher = new ManifestWatcher({
    dir: options.manifests,
    sync: directorySync,
    debounceMs: settings.sync.debounceMs,
    logger: logger.child({ component: 'sync' }),
  });
  await manifestWatcher.start();

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
    defaultMemoryBytes: settings.defaultMemoryBytes,
    stopTimeoutSeconds: settings.stopTimeoutSeconds,
    stoppedRetentionMs: settings.stoppedRetentionMs,
    policy: settings,
    ledger,
    events: events.recorder('controller'),
    metrics: new PrometheusControllerMetrics(options.metrics),
    admission: settings.admission,
  });
  registerControllerCollectors(options.metrics, { store, usage: ledger, queueDepth: () => controller.queueDepth() });
  options.attachHooks(controller);
  await controller.start();

  // The engine's outages are reported once each (log, event); when it is back, everything
  // is reconciled at once rather than when each object's error backoff ends.
  const engineRef = { kind: 'Engine', name: runtime.endpoint };
  const recordEngine = events.recorder('controller');
  const engine = new EngineMonitor({
    ping: () => runtime.ping(),
    onDown: (error) => {
      logger.error(
        { component: 'engine', endpoint: runtime.endpoint, err: error },
        'Docker engine unreachable; cold requests get 503 until it is back',
      );
      recordEngine.record(engineRef, 'Warning', 'EngineUnreachable', error);
    },
    onUp: (downForMs) => {
      logger.info(
        { component: 'engine', endpoint: runtime.endpoint, downForMs },
        'Docker engine reachable again; reconciling everything',
      );
      recordEngine.record(
        engineRef,
        'Normal',
        'EngineReconnected',
        `the Docker engine at ${runtime.endpoint} answers again after ${Math.round(downForMs / 1000)}s`,
      );
      controller.requestResync();
    },
  });
  engine.start();
  const dockerState = (): HealthReport['docker'] => {
    const state = engine.state();
    return state.reachable
      ? { reachable: true }
      : { reachable: false, ...(state.error !== undefined ? { error: state.error } : {}) };
  };

  const api = await createApiServer({
    store,
    contexts,
    logs,
    runtime,
    logHeartbeatIntervalMs: settings.logHeartbeatIntervalMs,
    maxUploadBytes: settings.maxUploadBytes,
    admission: settings,
    usage: ledger,
    events,
    logger: logger.child({ component: 'api' }),
    token,
    health: async () => {
      await engine.check();
      const current = dockerState();
      return { status: current.reachable ? 'ok' : 'degraded', docker: current };
    },
    dockerState,
    sync: { status: () => directorySync.status(), passNow: (pass) => manifestWatcher.passNow(pass) },
    wake: (project) => controller.wakeProject(project),
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
        engine.stop();
        await manifestWatcher.stop();
        await api.close();
        await controller.stop();
        stopConditionEvents();
        detachWebhooks();
        webhooks.close();
        await ledger.close();
        await store.close();
      })();
      return stopping;
    },
  };
}

/** status.url: HTTPS for a `tls` project when the proxy has an HTTPS listener, else plain HTTP. */
export function publicUrlFor(port: number, httpsPort?: number): (host: string, tls?: boolean) => string {
  return (host, tls = false) => {
    if (tls && httpsPort !== undefined) return httpsPort === 443 ? `https://${host}/` : `https://${host}:${httpsPort}/`;
    return port === 80 ? `http://${host}/` : `http://${host}:${port}/`;
  };
}
