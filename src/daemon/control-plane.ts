import path from 'node:path';
import { createApiServer } from '../api/server.js';
import { StandbyError } from '../api/errors.js';
import type { SyncControl } from '../api/sync-routes.js';
import type { OperatorSettings } from '../config/settings.js';
import { projectSettingsResolver } from '../config/settings-defaults.js';
import { Controller } from '../controller/controller.js';
import { CONDITION_EVENT_SOURCE, ConditionEvents } from '../events/condition-events.js';
import type { EventLog, EventRecorder } from '../events/event-log.js';
import { KINDS } from '../model/types.js';
import type { ProxyHooks, ProxyManagement } from '../proxy/management.js';
import { openRuntime, type EngineRuntime, type RuntimeChoice } from '../runtime/select-runtime.js';
import { FencedRuntime } from '../runtime/fenced-runtime.js';
import { localContextResolver } from '../apply/context-resolvers.js';
import { ContextStore } from '../images/context-store.js';
import { LogHub } from '../logs/log-hub.js';
import type { ObjectStore } from '../store/store.js';
import type { Ledger } from '../usage/ledger.js';
import { openState, type OpenedState } from './open-state.js';
import { createLeadership, type ControlPlaneLeadership } from './leadership.js';
import { startSharedRoutes, type SharedRoutes } from './shared-routes/shared-routes.js';
import { databaseReports, type DatabaseReports } from './database-reports.js';
import type { Logger } from '../util/logger.js';
import { watchEngine, type EngineReports } from './engine-reports.js';
import { DirectorySync } from '../sync/directory-sync.js';
import { InventoryFile } from '../sync/inventory.js';
import { ManifestWatcher } from '../sync/watcher.js';
import type { ListenAddress } from './listen-address.js';
import type { Registry } from 'prom-client';
import { PrometheusControllerMetrics } from '../metrics/prometheus-controller-metrics.js';
import { registerControllerCollectors, registerWebhookCollectors } from '../metrics/controller-collectors.js';
import { WebhookDispatcher } from '../events/webhooks.js';
import { attachLifecycleWebhooks } from '../events/lifecycle-webhooks.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { openSecretBox } from '../secrets/secret-key.js';

// The controller half of Luma: store, Docker runtime, controller and API. `luma up`
// gives it the in-process proxy; `luma controller` gives it a client of the proxy's
// management socket. Either way it only sees the ProxyManagement interface.

export interface ControlPlaneOptions {
  manifests: string;
  stateDir: string;
  /** The operator's key for Secrets at rest; STATE_DIR/secret-key (made at first start) when absent. */
  secretKeyFile?: string;
  /** `--store`: a postgres:// URL, or undefined for the state directory's files. */
  store?: string;
  apiAddress: ListenAddress;
  settings: OperatorSettings;
  proxy: ProxyManagement;
  /** Connects the proxy's wake requests to the controller. */
  attachHooks: (hooks: ProxyHooks) => void;
  publicUrl: (host: string, tls?: boolean) => string;
  logger: Logger;
  /** Called after the log line when this process loses the leadership; exits with LOST_LEADERSHIP_EXIT_CODE by default. */
  onLostLeadership?: () => void;
  /** The process's Prometheus registry, served at the API's /metrics (with the proxy's metrics in `luma up`). */
  metrics: Registry;
  /** `--runtime` and `--registry`: plain Docker containers (the default) or Swarm services. */
  engine?: RuntimeChoice;
}

export interface RunningControlPlane {
  apiPort: number;
  controller: Controller;
  /** STATE/usage/ledger.jsonl or the database: the lease reconciler appends what each ended lease cost. */
  ledger: Ledger;
  /** What happened to objects, newest last (`luma events`). */
  events: EventLog;
  stop(): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const { settings, logger } = options;
  const runtime = await openRuntime({
    ...options.engine,
    instance: settings.instance,
    stopGraceSeconds: settings.stopTimeoutSeconds,
    logger,
  });
  await runtime.ping();
  // Before the store: a key that cannot be read stops the start before anything is opened.
  const secrets = await openSecretBox({ stateDir: options.stateDir, keyFile: options.secretKeyFile });
  const late: { events?: EventLog; controller?: Controller } = {};
  const database = databaseReports(
    () => late.events,
    () => late.controller,
    logger,
  );
  const state = await openState(options.stateDir, options.store, logger, (current) => database.observe(current));
  const { ledger, token } = state;
  const leadership = electionFor(options, state.fenced !== undefined);
  // The controller and the directory write through the fenced view: once this process no
  // longer leads, the database refuses what it still tries to write.
  const acting = leadership && state.fenced ? state.fenced(leadership.fence()) : state.store;
  // And its Docker calls go through the runtime's fence, which no transaction covers.
  const engineCalls = leadership ? new FencedRuntime(runtime, leadership.runtimeFence()) : runtime;
  const contexts = await new ContextStore(path.join(options.stateDir, 'contexts'), settings.contextLimits).prepare();
  const logs = new LogHub();
  const events = (late.events = state.events);
  const stopEvents = startEventFeeds(state.store, events, options, leadership);
  const parts: Parts = { store: acting, runtime: engineCalls, contexts, logs, ledger, events, secrets };
  const sync = createDirectorySync(options, parts);
  const shared = await feedProxies(options, leadership, () => late.controller);
  const controller = (late.controller = createController(options, parts, leadership, shared));
  // The directory is read once before the controller starts (what it declares exists from
  // the first reconcile on), then followed as it changes.
  const act = async (): Promise<void> => {
    await sync.start();
    await controller.start();
  };
  if (!leadership) await act();
  const engine = withDatabase(watchEngine(runtime, events, controller, logger), database, state, leadership);
  const wake = wakeOnLeader(controller, leadership);
  const api = await listenApi(options, { ...parts, store: state.store }, { token, engine, sync, wake });
  await leadership?.start(act);

  const stop = stopInOrder([
    async () => engine.stop(),
    () => sync.stop(),
    () => api.close(),
    () => controller.stop(),
    async () => shared?.stop(),
    async () => leadership?.stop(),
    async () => stopEvents(),
    () => events.close(),
    () => ledger.close(),
    () => state.store.close(),
  ]);
  return { apiPort: api.port, controller, ledger, events, stop };
}

/**
 * What brings work (the engine monitor, the directory, the API) stops before the
 * controller that does it; the lease is handed back once nothing acts; the store closes
 * last. Called twice, it stops once.
 */
function stopInOrder(steps: Array<() => Promise<void>>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const run = async (): Promise<void> => {
    for (const step of steps) await step();
  };
  return () => (stopping ??= run());
}

/** Exit status of a controller that lost the leadership (a supervisor restarts it as a standby). */
export const LOST_LEADERSHIP_EXIT_CODE = 3;

/** With a PostgreSQL store, the election among the controllers sharing it; none with files. */
function electionFor(options: ControlPlaneOptions, shared: boolean): ControlPlaneLeadership | undefined {
  if (!shared || !options.store) return undefined;
  const { logger } = options;
  return createLeadership(options.store, logger, (epoch) => {
    logger.error(
      { component: 'election', epoch, exitCode: LOST_LEADERSHIP_EXIT_CODE },
      'lost the leadership (another controller may lead now); exiting so that this one acts no more',
    );
    logger.flush();
    (options.onLostLeadership ?? (() => process.exit(LOST_LEADERSHIP_EXIT_CODE)))();
  });
}

/**
 * With an election, every controller's proxy serves the leader's routes (the leader
 * publishes them, the others follow) and a standby's held request wakes through the leader.
 */
async function feedProxies(
  options: ControlPlaneOptions,
  leadership: ControlPlaneLeadership | undefined,
  controller: () => Controller | undefined,
): Promise<SharedRoutes | undefined> {
  if (!leadership || !options.store) return undefined;
  return startSharedRoutes({
    url: options.store,
    proxy: options.proxy,
    id: leadership.id,
    leading: () => leadership.leading(),
    fence: () => leadership.fence(),
    wake: (service, requestId) => controller()?.wake(service, requestId),
    wakeRelayed: (service) => controller()?.wakeRelayed(service),
    logger: options.logger,
  });
}

/** `luma wake` through the API: only the leader acts; a standby says so. */
function wakeOnLeader(controller: Controller, leadership: ControlPlaneLeadership | undefined): (name: string) => void {
  return (project) => {
    if (!leading(leadership)) throw new StandbyError(`project "${project}" is woken by the leading controller`);
    controller.wakeProject(project);
  };
}

function leading(leadership: ControlPlaneLeadership | undefined): boolean {
  return leadership === undefined || leadership.leading();
}

/** The engine's reports, with the database's state and the election added to /healthz when there is one. */
function withDatabase(
  engine: EngineReports,
  database: DatabaseReports,
  state: OpenedState,
  leadership: ControlPlaneLeadership | undefined,
): EngineReports {
  return {
    ...engine,
    health: async () => {
      const report = database.decorate(await engine.health(), state.database?.());
      if (!leadership) return report;
      const { leader, id, current } = await leadership.report();
      return { ...report, leader, election: current ? { id, current } : { id } };
    },
  };
}

/** Readiness changes become events (`luma events`, `luma describe`); lifecycle events go to the webhooks. */
function startEventFeeds(
  store: ObjectStore,
  events: EventLog,
  options: ControlPlaneOptions,
  leadership: ControlPlaneLeadership | undefined,
): () => void {
  const { settings, logger } = options;
  // Every controller sees the same status changes; on a shared event log the leader alone tells them.
  const recorder = events.recorder(CONDITION_EVENT_SOURCE);
  const leaderOnly: EventRecorder = { record: (...args) => void (leading(leadership) && recorder.record(...args)) };
  const conditionEvents = new ConditionEvents(leaderOnly);
  for (const kind of KINDS) conditionEvents.prime(store.list(kind));
  const stopConditionEvents = store.watch((event) => conditionEvents.observe(event));
  const webhooks = new WebhookDispatcher(settings.webhooks, { logger: logger.child({ component: 'webhooks' }) });
  const detachWebhooks = attachLifecycleWebhooks(events, store, webhooks, settings.instance);
  registerWebhookCollectors(options.metrics, () => webhooks.stats());
  return () => {
    stopConditionEvents();
    detachWebhooks();
    webhooks.close();
  };
}

/**
 * The watched manifests directory: start() reads it once and then follows it. With a
 * shared store only the leader follows it: two processes syncing would each write what
 * their own copy of the directory says and prune by their own inventory, undoing each
 * other; the leader's writes are fenced, a standby's would not be.
 */
function createDirectorySync(
  options: ControlPlaneOptions,
  parts: Parts,
): SyncControl & { start(): Promise<void>; stop(): Promise<void> } {
  const { settings, logger } = options;
  const directorySync = new DirectorySync({
    dir: options.manifests,
    store: parts.store,
    inventory: new InventoryFile(options.stateDir),
    settings: settings.sync,
    admission: settings,
    resolveContext: localContextResolver(parts.contexts),
    events: parts.events.recorder('sync'),
    logger: logger.child({ component: 'sync' }),
  });
  const watcher = new ManifestWatcher({
    dir: options.manifests,
    sync: directorySync,
    debounceMs: settings.sync.debounceMs,
    logger: logger.child({ component: 'sync' }),
  });
  let started = false;
  return {
    status: () => directorySync.status(),
    passNow: async (pass) => {
      if (!started) throw new StandbyError('the watched directory is synced by the leading controller');
      return watcher.passNow(pass);
    },
    start: async () => {
      started = true;
      await watcher.start();
    },
    stop: async () => {
      if (started) await watcher.stop();
      // Ends the scan's worker process (src/sync/scan-process.ts).
      await directorySync.close();
    },
  };
}

/** What the control plane is made of, shared by the controller and the API. */
interface Parts {
  store: ObjectStore;
  runtime: EngineRuntime;
  contexts: ContextStore;
  logs: LogHub;
  ledger: Ledger;
  events: EventLog;
  secrets: SecretBox;
}

/**
 * The controller, not yet started; with an election, only the leader's acts on the proxy's
 * wake requests, and a standby passes its proxy's on to the leader.
 */
function createController(
  options: ControlPlaneOptions,
  parts: Parts,
  leadership: ControlPlaneLeadership | undefined,
  shared: SharedRoutes | undefined,
): Controller {
  const { settings, logger } = options;
  const controller = new Controller({
    store: parts.store,
    runtime: parts.runtime,
    proxy: shared?.proxy ?? options.proxy,
    contexts: parts.contexts,
    logs: parts.logs,
    instance: settings.instance,
    logger: logger.child({ component: 'controller' }),
    publicUrl: options.publicUrl,
    resyncIntervalMs: settings.resyncIntervalMs,
    projectSettings: projectSettingsResolver(settings),
    stopTimeoutSeconds: settings.stopTimeoutSeconds,
    stoppedRetentionMs: settings.stoppedRetentionMs,
    revisionHistoryLimit: settings.revisionHistoryLimit,
    policy: settings,
    ledger: parts.ledger,
    events: parts.events.recorder('controller'),
    eventHistory: (object) => parts.events.list({ kind: object.kind, name: object.name }),
    metrics: new PrometheusControllerMetrics(options.metrics),
    admission: settings.admission,
    secrets: parts.secrets,
  });
  const depth = { store: parts.store, usage: parts.ledger, queueDepth: () => controller.queueDepth() };
  registerControllerCollectors(options.metrics, depth);
  options.attachHooks({
    wake: (service, requestId) =>
      shared ? shared.wake(service, requestId) : void (leading(leadership) && controller.wake(service, requestId)),
    certificateChanged: (service) => void (leading(leadership) && controller.certificateChanged(service)),
  });
  return controller;
}

async function listenApi(
  options: ControlPlaneOptions,
  parts: Parts,
  extras: { token: string; engine: EngineReports; sync: SyncControl; wake: (project: string) => void },
): Promise<{ port: number; close(): Promise<void> }> {
  const { settings } = options;
  const api = await createApiServer({
    store: parts.store,
    contexts: parts.contexts,
    logs: parts.logs,
    runtime: parts.runtime,
    logHeartbeatIntervalMs: settings.logHeartbeatIntervalMs,
    maxUploadBytes: settings.maxUploadBytes,
    admission: settings,
    compat: settings.compat,
    usage: parts.ledger,
    events: parts.events,
    logger: options.logger.child({ component: 'api' }),
    token: extras.token,
    health: extras.engine.health,
    dockerState: extras.engine.dockerState,
    sync: extras.sync,
    wake: extras.wake,
    metrics: options.metrics,
    secrets: parts.secrets,
  });
  await api.listen({ host: options.apiAddress.host, port: options.apiAddress.port });
  return { port: (api.server.address() as { port: number }).port, close: () => api.close() };
}

/** status.url: HTTPS for a `tls` project when the proxy has an HTTPS listener, else plain HTTP. */
export function publicUrlFor(port: number, httpsPort?: number): (host: string, tls?: boolean) => string {
  return (host, tls = false) => {
    if (tls && httpsPort !== undefined) return httpsPort === 443 ? `https://${host}/` : `https://${host}:${httpsPort}/`;
    return port === 80 ? `http://${host}/` : `http://${host}:${port}/`;
  };
}
