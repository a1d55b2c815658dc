import type { ProjectObject, ProjectStatus } from '../model/types.js';
import {
  resolveProjectSettings,
  type ProjectSettings,
  type ProjectSettingsOverrides,
} from '../model/project-settings.js';
import type { DeployRequest, ProxyManagement, ServiceInfo } from '../proxy/management.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { DockerUnavailableError } from '../runtime/errors.js';
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';
import { shortHash } from '../util/hash.js';
import { certificateCondition } from './certificate-condition.js';
import { setCondition, setReadiness, type Readiness } from './conditions.js';
import {
  CRASH_LOG_LINES,
  CrashLoopTracker,
  crashLoopMessage,
  crashLoopReason,
  type Crash,
  type CrashLoopState,
} from './crash-loop.js';
import { waitUntilReady } from '../util/readiness-probe.js';
import { decideInstances, withWakeAt } from './scaling.js';
import { resolveProjectImage } from './image-resolution.js';
import { IMAGE_NOT_ALLOWED, imageNotAllowed } from './image-policy.js';
import type { ReconcileResult } from './work-queue.js';
import { NO_CONTROLLER_METRICS, type ColdStartTier, type ControllerMetrics } from '../metrics/controller-metrics.js';
import { NO_EVENTS, type EventRecorder } from '../events/event-log.js';
import { describeDrift, type LeftState } from './drift.js';
import {
  ADMISSION_RETRY_MS,
  INSUFFICIENT_MEMORY,
  InsufficientMemoryError,
  startAdmitted,
  type IdleContainers,
  type MemoryBudget,
} from './memory-budget.js';

// Converges one Project: reads the whole desired state (store) and actual state (Docker
// containers by label, proxy activity), acts on the difference, writes status. It is
// never told which event woke it, so running it twice in a row changes nothing.
//
// One shortcut sits beside it: resumePaused(), the wake fast path for a project scaled to
// zero with frozen instances. It never runs alongside a reconcile of the same project, and
// the reconcile that follows it stays the single source of truth.

const LOOPBACK = '127.0.0.1';
/** Do not poll the idle deadline more often than this. */
const MIN_REQUEUE_MS = 50;
/** How long an image that is missing waits before it is looked for again. */
const IMAGE_RECHECK_MS = 5_000;
/** Failures that resolve themselves (an Image still building): Reconciling, not Stalled. */
const WAITING_FAILURES = new Set(['ImageNotReady', INSUFFICIENT_MEMORY]);
export const DEFAULT_STOPPED_RETENTION_MS = 3_600_000;
/** How often a starting container is looked at, so that one that exits fails at once rather than at startupTimeout. */
const EXIT_WATCH_INTERVAL_MS = 100;
/** 128 + SIGTERM: how a container stopped with `docker stop` ends. */
const STOPPED_BY_SIGTERM = 143;

/** The app's process ended while Luma waited for it to become ready. */
export class AppExitedError extends Error {
  readonly code = 'AppExited';
  constructor(readonly crash: Crash) {
    super(`the app exited${crash.exitCode === undefined ? '' : ` with code ${crash.exitCode}`} before it became ready`);
    this.name = 'AppExitedError';
  }
}

interface Failure {
  reason: string;
  /** For status: may carry the app's log lines. */
  message: string;
  /** For HTTP clients answered 503 through the proxy, when it must say less than status. */
  publicMessage?: string;
}
/**
 * Every Project carries it (the store adds it at creation): a deleted project stays,
 * Terminating, until its containers (instances and pool) are gone.
 */
export const PROJECT_FINALIZER = 'luma.dev/project';

export interface ProjectReconcilerOptions {
  store: ObjectStore;
  runtime: ContainerRuntime;
  proxy: ProxyManagement;
  logger: Logger;
  now?: () => number;
  defaultIdleTimeoutMs?: number;
  /** The operator's memory limit for projects that declare none (setting defaultMemory); none when absent. */
  defaultMemoryBytes?: number;
  stopTimeoutSeconds?: number;
  /** How long a stopped container is kept for a fast restart before it is removed. */
  stoppedRetentionMs?: number;
  /** The URL a hostname is reached at through the proxy (over HTTPS when `tls`), for status.url. */
  publicUrl: (host: string, tls?: boolean) => string;
  /** Cold starts by tier and phase, scale events. */
  metrics?: ControllerMetrics;
  /** Container lifecycle (created, started, ready, paused, stopped): `luma events` and webhooks. */
  events?: EventRecorder;
  /** Admission by memory; every start is admitted when absent. */
  memory?: MemoryBudget;
  /** The operator's image allowlist (absent: every image may run), checked before every start. */
  imageAllowlist?: readonly string[];
}

/** The fields that shape a container: any change replaces it. Scaling and routing do not. */
export function containerSpecHash(settings: ProjectSettings): string {
  return shortHash({
    image: settings.image,
    port: settings.port,
    env: settings.env,
    command: settings.command ?? null,
    cpuMillis: settings.cpuMillis ?? null,
    memoryBytes: settings.memoryBytes ?? null,
    // The whole kept set, not only the project's additions: a change to what Luma keeps
    // replaces containers made with more.
    capabilities: settings.capabilities,
  });
}

export class ProjectReconciler implements IdleContainers {
  /** Containers whose readiness probe passed, with the time it did (the idle clock's floor). */
  private readonly readySince = new Map<string, number>();
  /** When Luma stopped each kept container, for the retention of stopped containers. */
  private readonly stoppedAt = new Map<string, number>();
  /**
   * Per project, the paused instances the last successful reconcile left behind while it
   * routed no target: what a held request may thaw without a full reconcile.
   */
  private readonly wakeable = new Map<string, ManagedContainer[]>();
  /** The request that last asked to wake each project, until its cold start is logged. */
  private readonly wokenBy = new Map<string, string>();
  /**
   * When a user last asked to wake each project (`luma wake`): read as request activity.
   * A cache: lost on restart, as the proxy's own activity is.
   */
  private readonly wokenAt = new Map<string, number>();
  /** Projects with a fast resume in progress. */
  private readonly resuming = new Map<string, Promise<boolean>>();
  /** Projects being reconciled now: their containers are not another start's to stop. */
  private readonly reconciling = new Set<string>();
  /** Projects with an instance being stopped to make room for another start; their reconcile waits for it. */
  private readonly evicting = new Map<string, Promise<boolean>>();
  /**
   * Projects that lost an instance to make room, and have had no request since: recent
   * activity must not start it again (it would take the memory straight back).
   */
  private readonly evicted = new Set<string>();
  /** Keyed by project and spec hash: a changed spec is a fresh start, not part of the loop. */
  private readonly crashLoops: CrashLoopTracker;
  /**
   * Per project, the state this reconciler left each instance in: a later reconcile that
   * finds one otherwise (stopped, paused or removed by hand) tells it as drift.
   */
  private readonly leftAs = new Map<string, Map<string, LeftState>>();
  private readonly now: () => number;
  private readonly metrics: ControllerMetrics;
  private readonly events: EventRecorder;

  constructor(private readonly options: ProjectReconcilerOptions) {
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? NO_CONTROLLER_METRICS;
    this.events = options.events ?? NO_EVENTS;
    this.crashLoops = new CrashLoopTracker(this.now);
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    this.reconciling.add(name);
    // From now until this reconcile has acted, nothing is thawed on the side: the next
    // view of what may be resumed is the one this reconcile leaves behind.
    this.wakeable.delete(name);
    try {
      await this.evicting.get(name);
      return await this.reconcileNow(name);
    } finally {
      this.reconciling.delete(name);
    }
  }

  private async reconcileNow(name: string): Promise<ReconcileResult> {
    const { store, runtime } = this.options;
    // A resume in progress finishes first, so its unpause and deploy are part of what this reads.
    await this.resuming.get(name);
    const project = store.get('Project', name);
    // Pool containers carry the project's labels too; they are the pool reconciler's.
    let containers: ManagedContainer[];
    try {
      containers = await runtime.list({ kind: 'Project', name, role: 'instance' });
    } catch (error) {
      if (error instanceof DockerUnavailableError && project) await this.engineUnreachable(project, error);
      throw error;
    }
    if (!project) {
      this.leftAs.delete(name);
      this.evicted.delete(name);
      this.wokenAt.delete(name);
      await this.tearDown(name, containers);
      this.metrics.projectRemoved(name);
      return;
    }
    if (project.metadata.deletionTimestamp) return this.finalize(project, containers);
    if (!(project.metadata.finalizers ?? []).includes(PROJECT_FINALIZER)) {
      // Projects stored before the finalizer existed get it now.
      await store.setFinalizers('Project', name, [...(project.metadata.finalizers ?? []), PROJECT_FINALIZER]);
    }
    this.reportDrift(name, containers);
    this.metrics.projectObserved(name);
    return this.converge(project, containers);
  }

  /**
   * The wake fast path: a request is held for a project whose last reconcile left it with
   * no target and paused instances. Thaws the most recently ready of them (one engine call)
   * and routes to it at once, without listing containers, probing or writing status; the
   * caller queues the reconcile that confirms it. Resolves false, and leaves everything to
   * that reconcile, whenever the view it would act on may be stale: a reconcile of the
   * project is running, its spec or image changed, or the container was stopped or removed
   * meanwhile. Never rejects: a held request must not see an error from a shortcut.
   */
  /** Remembers which request asked for a wake, so the cold start's log lines name it. */
  noteWake(name: string, requestId: string | undefined): void {
    if (requestId !== undefined) this.wokenBy.set(name, requestId);
  }

  /** A user asked for the project to start without a request: it starts as for one. */
  noteUserWake(name: string): void {
    this.wokenAt.set(name, this.now());
    // Like a request, a wake asked for by a user outweighs having made room for another start.
    this.evicted.delete(name);
  }

  resumePaused(name: string): Promise<boolean> {
    if (this.resuming.has(name) || this.evicting.has(name)) return Promise.resolve(false);
    let candidate: { settings: ProjectSettings; container: ManagedContainer } | undefined;
    try {
      candidate = this.pausedCandidate(name);
    } catch (error) {
      this.options.logger.warn({ project: name, err: errorMessage(error) }, 'fast resume skipped');
      return Promise.resolve(false);
    }
    if (!candidate) return Promise.resolve(false);
    // Consumed: after this attempt, only a reconcile knows what is paused.
    this.wakeable.delete(name);
    const resume = this.resumeInstance(name, candidate.settings, candidate.container).finally(() =>
      this.resuming.delete(name),
    );
    this.resuming.set(name, resume);
    return resume;
  }

  /**
   * Admission by memory asks which instances could be stopped to make room. Idle means: its
   * project is not being reconciled, resumed or evicted right now, has no request in
   * flight or held, and the instance is paused or a running one above minInstances (the
   * least recently ready of them first). A project's last request is its instances' last use.
   */
  async describe(
    containers: readonly ManagedContainer[],
    startingFor: string,
  ): Promise<Map<string, { idle: boolean; lastUsedAt: number }>> {
    const found = new Map<string, { idle: boolean; lastUsedAt: number }>();
    const byProject = new Map<string, ManagedContainer[]>();
    for (const container of containers) {
      if (container.owner.kind !== 'Project' || container.role !== 'instance') continue;
      byProject.set(container.owner.name, [...(byProject.get(container.owner.name) ?? []), container]);
    }
    // One question to the proxy per project with instances, asked together.
    const services = new Map(
      await Promise.all(
        [...byProject.keys()].map(async (name) => [name, await this.options.proxy.getService(name)] as const),
      ),
    );
    for (const [name, instances] of byProject) {
      const service = services.get(name);
      const project = this.options.store.get('Project', name);
      const quiet = service !== undefined && service.activity.inFlight === 0 && service.activity.waiting === 0;
      const free =
        quiet &&
        project !== undefined &&
        `Project/${name}` !== startingFor &&
        !this.reconciling.has(name) &&
        !this.resuming.has(name) &&
        !this.evicting.has(name);
      const lastUsed = service?.activity.lastActivityAt;
      const minInstances = project ? resolveProjectSettings(project.spec, this.defaults()).minInstances : 0;
      // Above minInstances, the least recently ready running instances may go.
      const running = instances
        .filter((container) => container.state !== 'paused')
        .sort((a, b) => (this.readySince.get(a.id) ?? 0) - (this.readySince.get(b.id) ?? 0));
      const spare = new Set(
        running.slice(0, Math.max(0, running.length - minInstances)).map((container) => container.id),
      );
      for (const container of instances) {
        const idle = free && (container.state === 'paused' || spare.has(container.id));
        found.set(container.id, { idle, lastUsedAt: lastUsed ?? this.readySince.get(container.id) ?? 0 });
      }
    }
    return found;
  }

  /** Stops an idle instance for another start: its route goes first, so no request meets a stopping container. */
  evict(container: ManagedContainer, reason: string): Promise<boolean> {
    const name = container.owner.name;
    if (this.reconciling.has(name) || this.resuming.has(name) || this.evicting.has(name)) return Promise.resolve(false);
    this.wakeable.delete(name);
    const eviction = this.stopForRoom(name, container, reason).finally(() => this.evicting.delete(name));
    this.evicting.set(name, eviction);
    return eviction;
  }

  private async stopForRoom(name: string, container: ManagedContainer, reason: string): Promise<boolean> {
    const { proxy, store } = this.options;
    const project = store.get('Project', name);
    const service = await proxy.getService(name);
    if (
      !project ||
      project.metadata.deletionTimestamp ||
      !service ||
      service.activity.inFlight > 0 ||
      service.activity.waiting > 0
    )
      return false;
    const settings = resolveProjectSettings(project.spec, this.defaults());
    const address = `${LOOPBACK}:${container.hostPort}`;
    if (service.targets.some((target) => target.address === address)) {
      // The route keeps the rest of the project's instances; with none left, the next request wakes it.
      const remaining = service.targets.filter((target) => target.address !== address).map((target) => target.address);
      await proxy.deploy({ ...this.route(name, settings, []), targets: remaining });
    }
    // A request may have arrived while the route changed: then it goes to the new route's targets or waits for a start.
    await this.stopContainer(container);
    this.leftAs.get(name)?.set(container.id, { name: container.name, state: 'stopped' });
    this.evicted.add(name);
    this.events.record(
      { kind: 'Project', name },
      'Normal',
      'ContainerEvicted',
      `container ${container.name} stopped ${reason}`,
    );
    return true;
  }

  private pausedCandidate(name: string): { settings: ProjectSettings; container: ManagedContainer } | undefined {
    const paused = this.wakeable.get(name);
    const project = this.options.store.get('Project', name);
    if (!paused || !project || project.metadata.deletionTimestamp) return undefined;
    const declared = resolveProjectSettings(project.spec, this.defaults());
    const image = resolveProjectImage(this.options.store, declared.image);
    if ('waitingFor' in image) return undefined;
    const settings: ProjectSettings = { ...declared, image: image.ref };
    const hash = containerSpecHash(settings);
    const usable = paused
      .filter(
        (container) =>
          container.owner.uid === project.metadata.uid &&
          container.specHash === hash &&
          container.hostPort !== undefined &&
          this.readySince.has(container.id),
      )
      .sort((a, b) => (this.readySince.get(b.id) ?? 0) - (this.readySince.get(a.id) ?? 0));
    const container = usable[0];
    return container ? { settings, container } : undefined;
  }

  private async resumeInstance(name: string, settings: ProjectSettings, container: ManagedContainer): Promise<boolean> {
    const { runtime, proxy, logger } = this.options;
    const startedAt = this.now();
    try {
      // Connecting to its port overlaps the unpause (the port accepts while the app is
      // frozen); only the deploy below routes to it, once the unpause said it is ours.
      void proxy.preconnect(`${LOOPBACK}:${container.hostPort}`).catch(() => undefined);
      // resume() answers false for a container stopped or removed since the last reconcile:
      // its port may belong to someone else by now, so it must not be routed to.
      if (!(await runtime.resume(container.id))) {
        this.readySince.delete(container.id);
        logger.info(
          { project: name, container: container.name },
          'paused instance was stopped or removed meanwhile; the reconcile takes over',
        );
        return false;
      }
      this.metrics.coldStartPhase(name, 'paused', 'start', (this.now() - startedAt) / 1000);
      this.events.record(
        { kind: 'Project', name },
        'Normal',
        'ContainerStarted',
        `container ${container.name} resumed`,
      );
      // It passed readiness before it was frozen and its processes never stopped: no probe.
      await proxy.deploy(this.route(name, settings, [container]));
    } catch (error) {
      logger.warn(
        { project: name, container: container.name, err: errorMessage(error) },
        'fast resume failed; the reconcile takes over',
      );
      return false;
    }
    this.leftAs.get(name)?.set(container.id, { name: container.name, state: 'running' });
    this.coldStartDone(name, container.name, 'paused', startedAt);
    this.metrics.scaled(name, 'up', 1);
    logger.info(
      {
        project: name,
        container: container.name,
        tier: 'paused',
        fastPath: true,
        ms: this.now() - startedAt,
        requestId: this.takeWake(name),
      },
      'instance resumed',
    );
    return true;
  }

  /**
   * At start, before any reconcile: a stored project the proxy has no route for gets one
   * with no target yet. Its first requests are then held and wake it, as for a project
   * scaled to zero, instead of being answered 404 until its first reconcile deploys the
   * route. Routes the proxy already has (a proxy that outlived the controller) are kept.
   */
  async routeUnrouted(): Promise<void> {
    const { proxy, store, logger } = this.options;
    const routed = new Set((await proxy.listServices()).map((service) => service.service));
    for (const project of store.list('Project')) {
      const name = project.metadata.name;
      if (routed.has(name) || project.metadata.deletionTimestamp) continue;
      const settings = resolveProjectSettings(project.spec, this.defaults());
      // A refused route (a hostname another project holds) is left to the reconcile to report.
      await proxy
        .deploy(this.route(name, settings, []))
        .catch((error: unknown) =>
          logger.warn({ project: name, err: errorMessage(error) }, 'no route before the first reconcile'),
        );
    }
  }

  private route(
    name: string,
    settings: ProjectSettings,
    targets: ManagedContainer[],
    unavailableReason?: string,
  ): DeployRequest {
    return {
      service: name,
      hosts: settings.hostnames,
      targets: targets.map((container) => `${LOOPBACK}:${container.hostPort}`),
      startupTimeoutMs: settings.startupTimeoutMs,
      targetConcurrency: settings.targetConcurrency,
      // spec.tls: HTTPS with an automatic certificate, and plain HTTP redirected to it.
      ...(settings.tls ? { tls: true, sslRedirect: true } : {}),
      ...(unavailableReason !== undefined ? { unavailableReason } : {}),
    };
  }

  /** A deleted project: its route and every container of it go, then its finalizer, and with it the object. */
  private async finalize(project: ProjectObject, instances: ManagedContainer[]): Promise<void> {
    const name = project.metadata.name;
    this.leftAs.delete(name);
    this.wakeable.delete(name);
    const pool = await this.options.runtime.list({ kind: 'Project', name, role: 'pool' });
    await this.tearDown(name, [...instances, ...pool]);
    await this.options.store.setFinalizers(
      'Project',
      name,
      (project.metadata.finalizers ?? []).filter((finalizer) => finalizer !== PROJECT_FINALIZER),
    );
  }

  private async tearDown(name: string, containers: ManagedContainer[]): Promise<void> {
    this.crashLoops.forgetWhere((key) => key.startsWith(`${name}/`));
    if (await this.options.proxy.getService(name)) await this.options.proxy.remove(name);
    await Promise.all(containers.map((container) => this.removeContainer(container)));
    if (containers.length > 0)
      this.options.logger.info({ project: name, removed: containers.length }, 'removed containers of deleted project');
  }

  private async converge(project: ProjectObject, containers: ManagedContainer[]): Promise<ReconcileResult> {
    const { runtime, proxy, logger } = this.options;
    const name = project.metadata.name;
    const uid = project.metadata.uid ?? '';
    const declared = resolveProjectSettings(project.spec, this.defaults());
    const image = resolveProjectImage(this.options.store, declared.image);
    if ('waitingFor' in image) return this.waitForImage(project, declared, image.waitingFor);
    const settings: ProjectSettings = { ...declared, image: image.ref };
    const refused = imageNotAllowed(settings.image, declared.image, this.options.imageAllowlist);
    if (refused !== undefined) return this.refuseImage(project, settings, containers, refused);
    const hash = containerSpecHash(settings);

    // Containers of an earlier object with the same name, or of an older spec.
    const foreign = containers.filter((container) => container.owner.uid !== uid);
    const mine = containers.filter((container) => container.owner.uid === uid);
    const outdated = mine.filter((container) => container.specHash !== hash);
    const current = mine.filter((container) => container.specHash === hash);
    const broken = current.filter((container) => container.state === 'dead' || container.state === 'removing');
    await Promise.all([...foreign, ...broken].map((container) => this.removeContainer(container)));

    const running = current.filter((container) => container.state === 'running' || container.state === 'restarting');
    const paused = current.filter((container) => container.state === 'paused');
    const stopped = current.filter((container) => container.state === 'exited' || container.state === 'created');
    const crashKey = `${name}/${hash}`;
    this.crashLoops.forgetWhere((key) => key.startsWith(`${name}/`) && key !== crashKey);
    await this.noteCrashedInstances(crashKey, stopped);
    await this.removeExpiredStopped(stopped);

    // Adopted or surviving containers are probed once before they get traffic.
    const serving: ManagedContainer[] = [];
    for (const container of running) {
      if (await this.ensureReady(container, settings)) serving.push(container);
    }

    const service = await proxy.getService(name);
    const load = (service?.activity.inFlight ?? 0) + (service?.activity.waiting ?? 0);
    if (load > 0) this.evicted.delete(name);
    const scaled = decideInstances({
      minInstances: settings.minInstances,
      maxInstances: settings.maxInstances,
      targetConcurrency: settings.targetConcurrency,
      idleTimeoutMs: settings.idleTimeoutMs,
      pauseAfterMs: settings.pauseAfterMs,
      activity: withWakeAt(service?.activity, this.wokenAt.get(name)),
      serving: serving.length,
      // Paused instances served until they were frozen: without request history (after a
      // restart) their readiness still starts the idle clock, or the next reconcile would
      // stop them at once instead of at idleTimeout.
      servingSince: latest([...serving, ...paused].map((container) => this.readySince.get(container.id))),
      now: this.now(),
    });
    // Made room for another start: keeps what still serves, starts nothing until a request comes.
    const decision = this.evicted.has(name)
      ? { ...scaled, desired: Math.min(scaled.desired, Math.max(serving.length, settings.minInstances)) }
      : scaled;

    let failure: Failure | undefined;
    const deficit = decision.desired - serving.length;
    const resumed = new Set<string>();
    const backingOff = this.crashLoops.backingOff(crashKey);
    if (deficit > 0 && backingOff) {
      // Not before its backoff ends: requests are answered 503 with the reason meanwhile.
      failure = this.crashLoopFailure(backingOff);
    } else if (deficit > 0) {
      // Fastest first: thaw paused instances, then restart stopped ones, then create.
      const candidates = [...paused, ...stopped].slice(0, deficit);
      // Only creating a container needs the image; resuming or restarting does not.
      const imageReady =
        deficit <= candidates.length ||
        (await this.timed(name, 'fresh', 'image_ready', () => runtime.imageExists(settings.image)));
      if (!imageReady) {
        failure = {
          reason: 'ImageNotFound',
          message: `image "${settings.image}" is not present on this machine; build it or declare an Image`,
        };
      } else {
        if (candidates.some((candidate) => candidate.state !== 'paused') || candidates.length < deficit) {
          // A restart in a crash loop keeps saying why it is one until an instance is ready.
          const crashed = this.crashLoops.lastCrash(crashKey);
          const crashFailure = crashed
            ? { reason: 'CrashLoopBackOff', message: crashLoopMessage(crashed, this.now(), true) }
            : undefined;
          void this.writeStatus(project, settings, {
            phase: 'Starting',
            serving: serving.length,
            starting: deficit,
            containers: mine,
            failure: crashFailure,
          });
        }
        const started = await Promise.allSettled(
          Array.from({ length: deficit }, (_, index) => this.startInstance(project, settings, hash, candidates[index])),
        );
        for (const result of started) {
          if (result.status === 'fulfilled') {
            serving.push(result.value);
            resumed.add(result.value.id);
            this.metrics.scaled(name, 'up', 1);
            this.crashLoops.recordReady(crashKey);
          } else if (result.reason instanceof InsufficientMemoryError) {
            // Not a failure of the app: the start waits for room, and its requests stay held.
            failure = { reason: INSUFFICIENT_MEMORY, message: result.reason.message };
            this.events.record({ kind: 'Project', name }, 'Warning', INSUFFICIENT_MEMORY, result.reason.message);
          } else if (result.reason instanceof AppExitedError) {
            const loop = this.crashLoops.recordCrash(crashKey, result.reason.crash);
            logger.warn(
              { project: name, exitCode: loop.exitCode, crashes: loop.crashes, backoffMs: loop.backoffMs },
              'app exited before it became ready; backing off',
            );
            failure = this.crashLoopFailure(loop);
            this.metrics.instanceStartFailed(name);
            this.events.record(
              { kind: 'Project', name },
              'Warning',
              'CrashLoopBackOff',
              failure.publicMessage ?? failure.message,
            );
          } else {
            failure = { reason: 'StartFailed', message: errorMessage(result.reason) };
            this.metrics.instanceStartFailed(name);
            this.events.record({ kind: 'Project', name }, 'Warning', 'StartFailed', failure.message);
          }
        }
      }
    }

    // Keep the instances with the most recent readiness; the rest are surplus.
    serving.sort((a, b) => (this.readySince.get(b.id) ?? 0) - (this.readySince.get(a.id) ?? 0));
    const keep = serving.slice(0, Math.max(decision.desired, 0));
    const surplus = serving.slice(keep.length);
    // Only running ones: a frozen container would hold requests until they time out.
    const outdatedRunning = outdated.filter((container) => container.state === 'running');
    // While a replacement cannot start, outdated instances keep serving rather than nothing.
    const targets = keep.length > 0 || !failure ? keep : outdatedRunning;

    // Not a failure of the app: the project is Starting, and its held requests wait.
    const waitingForMemory = failure?.reason === INSUFFICIENT_MEMORY;
    // Held requests are answered with the failure at once, except while a start waits for memory.
    const answerNow = failure !== undefined && targets.length === 0 && !waitingForMemory;
    await proxy.deploy(
      this.route(name, settings, targets, answerNow ? (failure?.publicMessage ?? failure?.message) : undefined),
    );

    // deploy() returned after removed targets drained, so these may be frozen or stopped safely.
    const stillPaused = paused.filter((container) => !resumed.has(container.id));
    if (decision.surplus === 'pause') {
      await Promise.all(
        surplus.map(async (container) => {
          await runtime.pause(container.id);
          this.events.record(
            { kind: 'Project', name },
            'Normal',
            'ContainerPaused',
            `container ${container.name} paused (${decision.reason})`,
          );
        }),
      );
    } else {
      await Promise.all([...surplus, ...stillPaused].map((container) => this.stopContainer(container)));
    }
    if (targets !== outdatedRunning) await Promise.all(outdated.map((container) => this.removeContainer(container)));
    if (surplus.length > 0)
      logger.info(
        { project: name, count: surplus.length, action: decision.surplus, reason: decision.reason },
        'scaled down',
      );
    this.metrics.scaled(name, 'down', surplus.length);
    const frozen = decision.surplus === 'pause' ? [...surplus, ...stillPaused] : [];
    if (targets.length === 0 && !failure && frozen.length > 0)
      this.wakeable.set(
        name,
        frozen.map((container) => ({ ...container, state: 'paused' })),
      );

    const stillStopped = stopped.filter((container) => !resumed.has(container.id));
    const idleState = decision.surplus === 'pause' ? 'paused' : 'stopped';
    this.remember(name, [
      ...targets.map((container) => [container, 'running'] as const),
      ...[...surplus, ...stillPaused].map((container) => [container, idleState] as const),
      ...stillStopped.map((container) => [container, 'stopped'] as const),
    ]);

    // Counted after this reconcile's actions, so status says what is there now.
    const pausedNow = decision.surplus === 'pause' ? surplus.length + stillPaused.length : 0;
    const restartedFromStopped = stopped.filter((container) => resumed.has(container.id)).length;
    const stoppedNow =
      stopped.length - restartedFromStopped + (decision.surplus === 'stop' ? surplus.length + stillPaused.length : 0);
    // Scaled to zero after a crash, with no request since: status still says why the last start failed.
    const lastCrash = !failure && targets.length === 0 ? this.crashLoops.lastCrash(crashKey) : undefined;
    await this.writeStatus(project, settings, {
      phase: waitingForMemory ? 'Starting' : failure ? 'Failed' : targets.length > 0 ? 'Running' : 'Idle',
      serving: targets.length,
      starting: 0,
      paused: pausedNow,
      stopped: stoppedNow,
      containers: mine,
      failure: failure ?? (lastCrash ? this.crashLoopFailure(lastCrash) : undefined),
      lastActivityAt: service?.activity.lastActivityAt,
      service,
    });

    if (failure) {
      if (failure.reason === 'ImageNotFound') return { requeueAfterMs: IMAGE_RECHECK_MS };
      if (waitingForMemory) return { requeueAfterMs: ADMISSION_RETRY_MS };
      // The crash loop keeps its own clock: look again when its backoff ends.
      const loop = failure.reason === 'CrashLoopBackOff' ? this.crashLoops.backingOff(crashKey) : undefined;
      if (loop) return { requeueAfterMs: Math.max(MIN_REQUEUE_MS, loop.retryAt - this.now()) };
      throw new Error(`project ${name}: ${failure.message}`);
    }
    if (decision.nextCheckAt !== undefined)
      return { requeueAfterMs: Math.max(MIN_REQUEUE_MS, decision.nextCheckAt - this.now() + 1) };
    return;
  }

  /**
   * The engine is gone: nothing can start, so a request that would wait for a cold start
   * gets 503 with the reason at once (instances already routed keep their route), and
   * status says why. The error is rethrown: the work queue retries with backoff, and the
   * engine monitor reconciles everything the moment the engine is back.
   */
  private async engineUnreachable(project: ProjectObject, error: DockerUnavailableError): Promise<void> {
    const name = project.metadata.name;
    const { proxy, logger } = this.options;
    try {
      const service = await proxy.getService(name);
      if (!service || service.targets.length === 0) {
        const settings = resolveProjectSettings(project.spec, this.defaults());
        await proxy.deploy(
          this.route(
            name,
            settings,
            [],
            `the Docker engine is unreachable, so ${name} cannot be started; Luma starts it once the engine is back`,
          ),
        );
      }
      const now = new Date(this.now());
      await this.options.store.mutateStatus('Project', name, (current) => ({
        ...current.status,
        conditions: setReadiness(
          current.status?.conditions,
          { state: 'reconciling', reason: 'DockerUnavailable', message: error.message },
          now,
        ),
      }));
    } catch (reportError) {
      logger.warn({ project: name, err: errorMessage(reportError) }, 'could not report the unreachable engine');
    }
  }

  private crashLoopFailure(loop: CrashLoopState): Failure {
    const now = this.now();
    return {
      reason: 'CrashLoopBackOff',
      message: crashLoopMessage(loop, now),
      publicMessage: crashLoopReason(loop, now),
    };
  }

  /**
   * An instance that was ready and is now found exited, though Luma did not stop it, crashed
   * while serving: that counts towards the loop too.
   */
  private async noteCrashedInstances(crashKey: string, stopped: ManagedContainer[]): Promise<void> {
    for (const container of stopped) {
      if (container.state !== 'exited' || !this.readySince.has(container.id) || this.stoppedAt.has(container.id))
        continue;
      // 143 is SIGTERM (`docker stop` by hand, healed at once as drift); an unknown code is no evidence of a crash.
      if (container.exitCode === undefined || container.exitCode === 0 || container.exitCode === STOPPED_BY_SIGTERM)
        continue;
      this.readySince.delete(container.id);
      const loop = this.crashLoops.recordCrash(crashKey, {
        exitCode: container.exitCode,
        lastLines: await this.lastLines(container.id),
      });
      this.options.logger.warn(
        { container: container.name, exitCode: loop.exitCode, crashes: loop.crashes },
        'serving instance exited; backing off',
      );
    }
  }

  private async lastLines(id: string): Promise<string[]> {
    try {
      const stream = await this.options.runtime.logs(id, { follow: false, tail: CRASH_LOG_LINES });
      const lines: string[] = [];
      for await (const entry of stream ?? []) lines.push(entry.line);
      return lines.slice(-CRASH_LOG_LINES);
    } catch {
      return [];
    }
  }

  /**
   * Waits for the readiness probe while watching the container: an app that exits fails
   * the start within a fraction of a second, not at startupTimeout.
   */
  private async waitReadyOrExit(
    container: ManagedContainer,
    hostPort: number,
    settings: ProjectSettings,
  ): Promise<void> {
    let exited: ManagedContainer | undefined;
    let timer: NodeJS.Timeout | undefined;
    let watching = true;
    const look = async (): Promise<void> => {
      const current = await this.options.runtime.inspect(container.id).catch(() => container);
      if (!watching) return;
      if (!current || current.state === 'exited' || current.state === 'dead')
        exited = current ?? { ...container, state: 'exited' };
      else timer = setTimeout(() => void look(), EXIT_WATCH_INTERVAL_MS);
    };
    timer = setTimeout(() => void look(), EXIT_WATCH_INTERVAL_MS);
    try {
      await waitUntilReady(
        LOOPBACK,
        hostPort,
        settings.readiness,
        settings.startupTimeoutMs,
        () => exited !== undefined,
      );
    } catch (error) {
      if (exited)
        throw new AppExitedError({ exitCode: exited.exitCode, lastLines: await this.lastLines(container.id) });
      throw error;
    } finally {
      // Not awaited: a ready app must not wait for the watch's next look.
      watching = false;
      clearTimeout(timer);
    }
  }

  /** The operator's defaults for what a project does not declare. */
  private defaults(): ProjectSettingsOverrides {
    const { defaultIdleTimeoutMs, defaultMemoryBytes } = this.options;
    return {
      ...(defaultIdleTimeoutMs !== undefined ? { defaultIdleTimeoutMs } : {}),
      ...(defaultMemoryBytes !== undefined ? { defaultMemoryBytes } : {}),
    };
  }

  /** Compares what Docker shows with the state the last reconcile left, and says what drifted. */
  private reportDrift(name: string, containers: ManagedContainer[]): void {
    const left = this.leftAs.get(name);
    if (!left) return;
    const found = new Map(containers.map((container) => [container.id, container]));
    for (const [id, was] of left) {
      const drift = describeDrift(was, found.get(id));
      if (!drift) continue;
      this.options.logger.warn(
        { project: name, container: was.name, drift },
        'drift: putting back what the project declares',
      );
      (this.options.events ?? NO_EVENTS).record(
        { kind: 'Project', name },
        'Warning',
        'DriftDetected',
        `${drift}; putting back what the project declares`,
      );
    }
    // Told once: from here on the container is whatever this reconcile makes of it.
    this.leftAs.delete(name);
  }

  private remember(name: string, containers: ReadonlyArray<readonly [ManagedContainer, LeftState['state']]>): void {
    this.leftAs.set(
      name,
      new Map(containers.map(([container, state]) => [container.id, { name: container.name, state }])),
    );
  }

  /** Stopped containers are kept for a fast start, but not forever. */
  private async removeExpiredStopped(stopped: ManagedContainer[]): Promise<void> {
    const now = this.now();
    const retention = this.options.stoppedRetentionMs ?? DEFAULT_STOPPED_RETENTION_MS;
    for (const container of [...stopped]) {
      // Found stopped after a restart: the retention clock starts now.
      if (!this.stoppedAt.has(container.id)) this.stoppedAt.set(container.id, now);
      if (now - (this.stoppedAt.get(container.id) ?? now) >= retention) {
        await this.removeContainer(container);
        stopped.splice(stopped.indexOf(container), 1);
      }
    }
  }

  /**
   * The image the project resolves to is one the allowlist refuses: nothing of it starts,
   * and what runs stops, whatever image it was made from (the project serves nothing
   * until its image is allowed again). Requests get 503 with the reason; no requeue: a
   * change of the project or its Image wakes it, and the resync looks again.
   */
  private async refuseImage(
    project: ProjectObject,
    settings: ProjectSettings,
    containers: ManagedContainer[],
    message: string,
  ): Promise<ReconcileResult> {
    const name = project.metadata.name;
    this.wakeable.delete(name);
    await this.options.proxy.deploy(this.route(name, settings, [], message));
    const live = containers.filter(
      (container) => container.state === 'running' || container.state === 'paused' || container.state === 'restarting',
    );
    await Promise.all(live.map((container) => this.stopContainer(container)));
    if (live.length > 0)
      this.options.logger.warn(
        { project: name, stopped: live.length, reason: message },
        'image not allowed; instances stopped',
      );
    await this.writeStatus(project, settings, {
      phase: 'Failed',
      serving: 0,
      starting: 0,
      containers,
      failure: { reason: IMAGE_NOT_ALLOWED, message },
    });
    return;
  }

  /** No image to run yet: requests get 503 with the reason; the Image's progress wakes us. */
  private async waitForImage(
    project: ProjectObject,
    settings: ProjectSettings,
    reason: string,
  ): Promise<ReconcileResult> {
    await this.options.proxy.deploy(this.route(project.metadata.name, settings, [], reason));
    await this.writeStatus(project, settings, {
      phase: 'Pending',
      serving: 0,
      starting: 0,
      containers: [],
      failure: { reason: 'ImageNotReady', message: reason },
    });
    return;
  }

  private async ensureReady(container: ManagedContainer, settings: ProjectSettings): Promise<boolean> {
    if (this.readySince.has(container.id)) return true;
    if (container.state !== 'running' || !container.hostPort) return false;
    try {
      await waitUntilReady(LOOPBACK, container.hostPort, settings.readiness, settings.startupTimeoutMs);
      this.readySince.set(container.id, this.now());
      return true;
    } catch (error) {
      this.options.logger.warn(
        { container: container.name, err: errorMessage(error) },
        'running container never became ready; removing it',
      );
      await this.removeContainer(container);
      return false;
    }
  }

  /** Thaws a paused container or restarts a stopped one when given (fast), else creates a fresh one. */
  private async startInstance(
    project: ProjectObject,
    settings: ProjectSettings,
    hash: string,
    stopped: ManagedContainer | undefined,
  ): Promise<ManagedContainer> {
    const { runtime, logger } = this.options;
    const name = project.metadata.name;
    const startedAt = this.now();
    if (stopped?.state === 'paused' && stopped.hostPort) {
      const hostPort = stopped.hostPort;
      await this.timed(name, 'paused', 'start', () => runtime.unpause(stopped.id));
      this.events.record({ kind: 'Project', name }, 'Normal', 'ContainerStarted', `container ${stopped.name} resumed`);
      // It passed readiness before it was frozen; after a controller restart, check once.
      if (!this.readySince.has(stopped.id)) {
        await this.timed(name, 'paused', 'readiness', () =>
          waitUntilReady(LOOPBACK, hostPort, settings.readiness, settings.startupTimeoutMs),
        );
        this.readySince.set(stopped.id, this.now());
      }
      this.coldStartDone(name, stopped.name, 'paused', startedAt);
      logger.info(
        {
          project: name,
          container: stopped.name,
          tier: 'paused',
          ms: this.now() - startedAt,
          requestId: this.takeWake(name),
        },
        'instance resumed',
      );
      return { ...stopped, state: 'running' };
    }
    return startAdmitted(this.options.memory, `Project/${name}`, settings.memoryBytes, (running) =>
      this.startContainer(project, settings, hash, stopped, startedAt, running),
    );
  }

  /** Restarts a stopped container or creates and starts a fresh one, and waits until it is ready. */
  private async startContainer(
    project: ProjectObject,
    settings: ProjectSettings,
    hash: string,
    stopped: ManagedContainer | undefined,
    startedAt: number,
    onRunning: () => void,
  ): Promise<ManagedContainer> {
    const { runtime, logger } = this.options;
    const name = project.metadata.name;
    this.stoppedAt.delete(stopped?.id ?? '');
    const tier: ColdStartTier = stopped ? 'stopped' : 'fresh';
    const container =
      stopped ??
      (await this.timed(name, 'fresh', 'create', () =>
        runtime.create({
          owner: { kind: 'Project', name: project.metadata.name, uid: project.metadata.uid ?? '' },
          specHash: hash,
          image: settings.image,
          port: settings.port,
          env: settings.env,
          ...(settings.command ? { command: settings.command } : {}),
          capabilities: settings.capabilities,
          ...(settings.cpuMillis ? { cpuMillis: settings.cpuMillis } : {}),
          ...(settings.memoryBytes ? { memoryBytes: settings.memoryBytes } : {}),
        }),
      ));
    if (!stopped)
      this.events.record(
        { kind: 'Project', name },
        'Normal',
        'ContainerCreated',
        `container ${container.name} created from ${settings.image}`,
      );
    const running = await this.timed(name, tier, 'start', () => runtime.start(container.id));
    onRunning();
    // Exited before Docker was even asked how it runs: the quickest crash there is.
    if (running.state === 'exited' || running.state === 'dead') {
      throw new AppExitedError({ exitCode: running.exitCode, lastLines: await this.lastLines(running.id) });
    }
    const hostPort = running.hostPort;
    if (!hostPort) throw new Error(`container ${running.name} started without a published port`);
    this.events.record({ kind: 'Project', name }, 'Normal', 'ContainerStarted', `container ${running.name} started`);
    try {
      await this.timed(name, tier, 'readiness', () => this.waitReadyOrExit(running, hostPort, settings));
    } catch (error) {
      await runtime.stop(running.id, 0).catch(() => undefined);
      throw error;
    }
    this.readySince.set(running.id, this.now());
    this.coldStartDone(name, running.name, tier, startedAt);
    logger.info(
      { project: name, container: running.name, tier, ms: this.now() - startedAt, requestId: this.takeWake(name) },
      'instance ready',
    );
    return running;
  }

  private async stopContainer(container: ManagedContainer): Promise<void> {
    this.readySince.delete(container.id);
    this.stoppedAt.set(container.id, this.now());
    await this.options.runtime.stop(container.id, this.options.stopTimeoutSeconds ?? 10);
    this.events.record(
      { kind: 'Project', name: container.owner.name },
      'Normal',
      'ContainerStopped',
      `container ${container.name} stopped`,
    );
  }

  /** The id of the request that woke the project, once: the next cold start was not its doing. */
  private takeWake(name: string): string | undefined {
    const id = this.wokenBy.get(name);
    this.wokenBy.delete(name);
    return id;
  }

  /** Runs one phase of a cold start and observes how long it took, whether or not it succeeded. */
  private async timed<T>(
    project: string,
    tier: ColdStartTier,
    phase: 'image_ready' | 'create' | 'start' | 'readiness',
    work: () => Promise<T>,
  ): Promise<T> {
    const started = this.now();
    try {
      return await work();
    } finally {
      this.metrics.coldStartPhase(project, tier, phase, (this.now() - started) / 1000);
    }
  }

  /** An instance passed readiness (or was thawed): the cold start is over. */
  private coldStartDone(project: string, container: string, tier: ColdStartTier, startedAt: number): void {
    const seconds = (this.now() - startedAt) / 1000;
    this.metrics.coldStart(project, tier, seconds);
    this.events.record(
      { kind: 'Project', name: project },
      'Normal',
      'ContainerReady',
      `container ${container} ready after a ${tier} start in ${Math.round(seconds * 1000)} ms`,
    );
  }

  private async removeContainer(container: ManagedContainer): Promise<void> {
    this.readySince.delete(container.id);
    this.stoppedAt.delete(container.id);
    await this.options.runtime.remove(container.id);
  }

  private async writeStatus(
    project: ProjectObject,
    settings: ProjectSettings,
    observed: {
      phase: NonNullable<ProjectStatus['phase']>;
      serving: number;
      starting: number;
      paused?: number;
      stopped?: number;
      containers: ManagedContainer[];
      failure?: Failure | undefined;
      lastActivityAt?: number | undefined;
      /** What the proxy reported this reconcile (its certificates, for CertificateReady). */
      service?: ServiceInfo | undefined;
    },
  ): Promise<void> {
    const now = new Date(this.now());
    const previous = this.options.store.get('Project', project.metadata.name)?.status ?? {};
    const stoppedCount = observed.containers.filter(
      (container) => container.state === 'exited' || container.state === 'created',
    ).length;
    const readiness: Readiness = observed.failure
      ? { state: WAITING_FAILURES.has(observed.failure.reason) ? 'reconciling' : 'stalled', ...observed.failure }
      : observed.phase === 'Starting'
        ? { state: 'reconciling', reason: 'Starting', message: 'an instance is starting' }
        : observed.serving > 0
          ? { state: 'ready', reason: 'Running', message: `${observed.serving} instance(s) serving` }
          : { state: 'ready', reason: 'ScaledToZero', message: 'no instance runs; the next request starts one' };
    const firstHost = settings.hostnames[0];
    let conditions = setReadiness(previous.conditions, readiness, now);
    if (settings.tls) {
      // Without a fresh report (a status written mid-start), the last condition stands.
      if ('service' in observed) conditions = setCondition(conditions, certificateCondition(observed.service), now);
    } else conditions = conditions.filter((condition) => condition.type !== 'CertificateReady');
    const status: ProjectStatus = {
      observedGeneration: project.metadata.generation ?? 0,
      phase: observed.phase,
      conditions,
      instances: {
        running: observed.serving,
        starting: observed.starting,
        stopped: observed.stopped ?? Math.max(0, stoppedCount - observed.starting),
        paused: observed.paused ?? 0,
      },
      image: settings.image,
      ...(firstHost ? { url: this.options.publicUrl(firstHost, settings.tls) } : {}),
      ...(observed.lastActivityAt !== undefined
        ? { lastRequestAt: new Date(observed.lastActivityAt).toISOString() }
        : previous.lastRequestAt
          ? { lastRequestAt: previous.lastRequestAt }
          : {}),
    };
    try {
      // The pool reconciler writes status.pool: keep it.
      await this.options.store.mutateStatus('Project', project.metadata.name, (current) => ({
        ...status,
        ...(current.status?.pool ? { pool: current.status.pool } : {}),
      }));
    } catch (error) {
      this.options.logger.error({ project: project.metadata.name, err: errorMessage(error) }, 'could not write status');
    }
  }
}

function latest(values: Array<number | undefined>): number | undefined {
  const defined = values.filter((value): value is number => value !== undefined);
  return defined.length > 0 ? Math.max(...defined) : undefined;
}
