import type { Kind } from '../model/types.js';
import type { ProxyHooks, ProxyManagement } from '../proxy/management.js';
import { DockerUnavailableError } from '../runtime/errors.js';
import { errorMessage } from '../util/error-message.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ObjectStore, WatchEvent } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import type { ContextStore } from '../images/context-store.js';
import type { LogHub } from '../logs/log-hub.js';
import type { ImageRuntime } from '../runtime/runtime.js';
import { ImageReconciler } from './image-reconciler.js';
import { ProjectReconciler } from './project-reconciler.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { LeasePolicy, UsageSink } from './lease-policy.js';
import { LeaseReconciler, leaseOfService } from './lease-reconciler.js';
import { PoolReconciler } from './pool-reconciler.js';
import { NO_EVENTS, type EventHistory, type EventRecorder } from '../events/event-log.js';
import { WorkQueue } from './work-queue.js';
import { HostMovingProxy } from './host-moving-proxy.js';
import { declaredHostsIn } from './declared-hosts.js';
import { NO_CONTROLLER_METRICS, type ControllerMetrics } from '../metrics/controller-metrics.js';
import type { AdmissionSettings } from '../config/settings.js';
import { parseMemory } from '../model/quantities.js';
import { MemoryBudget } from './memory-budget.js';
import { traceWake } from '../util/wake-trace.js';
import { projectOfRevisionService } from './traffic.js';
import { secretEnvOf, type ProjectSettingsResolver } from '../model/project-settings.js';
import { systemClock, type Clock } from '../util/clock.js';
import { probeLiveness, type LivenessProber } from '../util/liveness-probe.js';
import { LivenessMonitor } from './liveness-monitor.js';
import { onLivenessFailure } from './liveness-replacement.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { ContainerSightings } from './container-sightings.js';
import { SightingRuntime } from './sighting-runtime.js';

// Wires the store's change events, the proxy's wake calls and a periodic resync into one
// work queue of `Kind/name` keys, and dispatches each key to its kind's reconciler.

export const DEFAULT_RESYNC_INTERVAL_MS = 10_000;
/**
 * How long after a fast resume its confirming reconcile runs. Right away, its container
 * list and status write compete for the machine with the first request's forward through
 * Docker's port proxy (measured: 5–10 ms added to time to first byte on 2 busy cores).
 */
export const RESUME_CONFIRM_DELAY_MS = 250;
/**
 * A periodic resync reconciles only the owners whose containers (or object) changed since
 * the last one: one container list serves every idle project, instead of two Docker calls
 * per project (its reconcile and its pool's). Every this many resyncs (5 min at the default 10 s), and whenever asked
 * (the proxy restarted), every owner is reconciled anyway, as the last safety net.
 */
export const FULL_RESYNC_EVERY = 30;

export interface ControllerOptions {
  store: ObjectStore;
  runtime: ContainerRuntime & ImageRuntime;
  proxy: ProxyManagement;
  contexts: ContextStore;
  logs: LogHub;
  /** The installation's name (operator setting `instance`). */
  instance: string;
  logger: Logger;
  publicUrl: (host: string, tls?: boolean) => string;
  resyncIntervalMs?: number;
  /** Specs resolved with the operator's defaults (defaultIdleTimeout, defaultMemory); Luma's own when absent. */
  projectSettings?: ProjectSettingsResolver;
  stopTimeoutSeconds?: number;
  stoppedRetentionMs?: number;
  /** Revisions kept per project. */
  revisionHistoryLimit?: number;
  /** Operator settings for leases and pools. */
  policy: LeasePolicy;
  /** Where ended leases' bills go. */
  ledger: UsageSink;
  /** Where reconcilers say what they did (`luma events`); nothing is recorded when absent. */
  events?: EventRecorder;
  /** An object's events recorded so far: how a restarted controller knows a rollout event was announced. */
  eventHistory?: EventHistory;
  /** Defaults to RESUME_CONFIRM_DELAY_MS. */
  resumeConfirmDelayMs?: number;
  /** Cold starts, scaling, reconciles, builds, leases and pools are counted here; nothing is when absent. */
  metrics?: ControllerMetrics;
  /** Admission by memory (operator setting `admission`); without a memory limit every start is admitted. */
  admission?: AdmissionSettings;
  /** The liveness check (HTTP or TCP on loopback) and its clock; unit tests inject them. */
  livenessProbe?: LivenessProber;
  livenessClock?: Clock;
  /** Opens Secrets' values for containers' environments; projects that read one wait without it. */
  secrets?: SecretBox;
}

/** What every reconciler is given alike. */
interface Shared {
  events: EventRecorder;
  metrics: ControllerMetrics;
  memory?: MemoryBudget;
  secrets?: SecretBox;
}

export function objectKey(kind: Kind, name: string): string {
  return `${kind}/${name}`;
}

/** The object whose reconcile deploys a proxy service. */
function ownerKeyOf(service: string): string {
  const lease = leaseOfService(service);
  return lease === undefined ? objectKey('Project', service) : objectKey('Lease', lease);
}

/** Owners whose containers differ between two resyncs: changed, appeared or all gone. */
function ownersChanged(before: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>): string[] {
  const changed: string[] = [];
  for (const [key, fingerprint] of now) if (before.get(key) !== fingerprint) changed.push(key);
  for (const key of before.keys()) if (!now.has(key)) changed.push(key);
  return changed;
}

function projectsReading(store: ObjectStore, secret: string): string[] {
  return store
    .list('Project')
    .filter((project) => Object.values(secretEnvOf(project.spec.env ?? {})).some((ref) => ref.name === secret))
    .map((project) => project.metadata.name);
}

function parseKey(key: string): { kind: string; name: string } {
  const slash = key.indexOf('/');
  return { kind: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class Controller implements ProxyHooks {
  private readonly queue: WorkQueue;
  private readonly projects: ProjectReconciler;
  private readonly images: ImageReconciler;
  private readonly pools: PoolReconciler;
  private readonly leases: LeaseReconciler;
  private unwatch: (() => void) | undefined;
  private unwatchDocker: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly resumeConfirmDelayMs: number;
  private resyncs = 0;
  /** Per owner key with containers, what the last resync saw of them (see containersByOwner). */
  private lastSeen = new Map<string, string>();
  /** Per project, what its last watch event said of it besides status (see projectChanged). */
  private readonly projectMarks = new Map<string, string>();
  private readonly metrics: ControllerMetrics;
  private readonly liveness: LivenessMonitor;
  /** The last resync's container list, handed to the reconciles it queued (container-sightings.ts). */
  private readonly sightings = new ContainerSightings();
  /** The engine, with every change the reconcilers make marked in the sightings. */
  private readonly runtime: ContainerRuntime;

  constructor(private readonly options: ControllerOptions) {
    this.runtime = new SightingRuntime(options.runtime, this.sightings);
    this.resumeConfirmDelayMs = options.resumeConfirmDelayMs ?? RESUME_CONFIRM_DELAY_MS;
    this.metrics = options.metrics ?? NO_CONTROLLER_METRICS;
    const shared: Shared = { events: options.events ?? NO_EVENTS, metrics: this.metrics };
    if (options.secrets) shared.secrets = options.secrets;
    const memory = this.memoryBudget(options);
    if (memory) shared.memory = memory;
    // Projects and leases deploy through it, so names moving between them converge.
    const proxy = new HostMovingProxy(options.proxy, declaredHostsIn(options.store), (service) =>
      this.queue.add(ownerKeyOf(service)),
    );
    this.liveness = new LivenessMonitor({
      clock: options.livenessClock ?? systemClock,
      probe: options.livenessProbe ?? probeLiveness,
      onFailure: onLivenessFailure(shared.events, this.metrics, options.logger, (project) =>
        this.queue.add(objectKey('Project', project)),
      ),
    });
    this.projects = this.projectReconciler(shared, proxy);
    memory?.attachIdleContainers(this.projects);
    this.images = new ImageReconciler({
      store: options.store,
      runtime: options.runtime,
      contexts: options.contexts,
      logs: options.logs,
      logger: options.logger,
      instance: options.instance,
      events: shared.events,
      metrics: shared.metrics,
    });
    const poolLock = new KeyedLock();
    this.pools = this.poolReconciler(shared, poolLock);
    this.leases = this.leaseReconciler(shared, proxy, poolLock);
    this.queue = new WorkQueue((key) => this.dispatch(key), {
      onError: (key, error, attempt, delayMs) => {
        const level = error instanceof DockerUnavailableError ? 'warn' : 'error';
        options.logger[level]({ key, attempt, retryInMs: delayMs, err: errorMessage(error) }, 'reconcile failed');
      },
    });
  }

  private projectReconciler(shared: Shared, proxy: ProxyManagement): ProjectReconciler {
    const { options } = this;
    return new ProjectReconciler({
      ...shared,
      store: options.store,
      runtime: this.runtime,
      proxy,
      logger: options.logger,
      publicUrl: options.publicUrl,
      liveness: this.liveness,
      ...this.projectSettings(),
      ...(options.policy.imageAllowlist !== undefined ? { imageAllowlist: options.policy.imageAllowlist } : {}),
      ...(options.stopTimeoutSeconds !== undefined ? { stopTimeoutSeconds: options.stopTimeoutSeconds } : {}),
      ...(options.stoppedRetentionMs !== undefined ? { stoppedRetentionMs: options.stoppedRetentionMs } : {}),
      ...(options.revisionHistoryLimit !== undefined ? { revisionHistoryLimit: options.revisionHistoryLimit } : {}),
      ...(options.eventHistory ? { eventHistory: options.eventHistory } : {}),
    });
  }

  /** A claim and a refill of one pool never interleave: both hold `poolLock`. */
  private poolReconciler(shared: Shared, poolLock: KeyedLock): PoolReconciler {
    const { options } = this;
    return new PoolReconciler({
      ...shared,
      store: options.store,
      runtime: this.runtime,
      logger: options.logger,
      policy: options.policy,
      poolLock,
      ...this.projectSettings(),
    });
  }

  private leaseReconciler(shared: Shared, proxy: ProxyManagement, poolLock: KeyedLock): LeaseReconciler {
    const { options } = this;
    return new LeaseReconciler({
      ...shared,
      store: options.store,
      runtime: this.runtime,
      proxy,
      logger: options.logger,
      policy: options.policy,
      ledger: options.ledger,
      pools: this.pools,
      poolLock,
      admissionLock: new KeyedLock(),
      enqueue: (key) => this.queue.add(key),
      publicUrl: options.publicUrl,
      ...this.projectSettings(),
    });
  }

  private projectSettings(): { projectSettings?: ProjectSettingsResolver } {
    const { projectSettings } = this.options;
    return projectSettings === undefined ? {} : { projectSettings };
  }

  private memoryBudget(options: ControllerOptions): MemoryBudget | undefined {
    const { memoryLimitBytes, unlimitedContainerBytes } = options.admission ?? {};
    if (memoryLimitBytes === undefined || unlimitedContainerBytes === undefined) return undefined;
    return new MemoryBudget({
      limitBytes: memoryLimitBytes,
      unlimitedContainerBytes,
      runtime: options.runtime,
      logger: options.logger.child({ component: 'admission' }),
      leaseMemory: (name) => {
        const memory = options.store.get('Lease', name)?.status?.resources?.memory;
        return memory === undefined ? undefined : parseMemory(memory);
      },
    });
  }

  /** Starts reconciling: every stored object, and the owners of every managed container (orphans included). */
  async start(): Promise<void> {
    this.unwatch = this.options.store.watch((event) => this.storeChanged(event));
    // Docker events heal drift (a container stopped or removed by hand) at once; the
    // periodic resync below is the safety net for anything an event stream missed.
    this.unwatchDocker = this.options.runtime.watchChanges((owner, action) => {
      this.sightings.touch(owner);
      if (owner.kind === 'Project') this.queue.add(`Pool/${owner.name}`);
      const key = objectKey(owner.kind, owner.name);
      // A thawed container breaks nothing and is usually a resume of ours that a request is
      // going through right now: it is looked at a little later, like a fast resume.
      if (action === 'unpause') this.queue.addAfter(key, this.resumeConfirmDelayMs);
      else this.queue.add(key);
    });
    // Best effort: an unreachable proxy is the reconciles' to report and retry.
    await this.projects
      .routeUnrouted()
      .catch((error: unknown) =>
        this.options.logger.warn({ err: errorMessage(error) }, 'routes before the first reconcile failed'),
      );
    this.queue.start();
    await this.resync({ full: true });
    const interval = this.options.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS;
    this.resyncTimer = setInterval(() => {
      this.resync({ full: false }).catch((error: unknown) =>
        this.options.logger.warn({ err: errorMessage(error) }, 'resync failed'),
      );
    }, interval);
    this.resyncTimer.unref();
  }

  /** What a change in the store queues: the object itself, and whatever follows it. */
  private storeChanged(event: WatchEvent): void {
    const { kind, metadata } = event.object;
    if (event.object.kind === 'Project' && this.projectChanged(event)) {
      // A deleted project's pool is emptied at once, whatever size it declared.
      const deleting = event.type === 'DELETED' || metadata.deletionTimestamp !== undefined;
      const withPool = deleting || this.mayHavePool(metadata.name, event.object.spec.pool?.size);
      // A new project's containers (orphans of an earlier one of its name, if any) are in
      // the last resync's list unless something touched them since: 10,000 projects
      // applied at once then cost no Docker call each.
      if (event.type === 'ADDED') this.handNew(metadata.name, withPool);
      this.addProject(metadata.name, withPool);
      this.wakeLeasesOf(metadata.name);
    }
    if (kind === 'Lease') this.queue.add(objectKey('Lease', metadata.name));
    if (kind === 'Image') {
      // Its reconcile may be busy building what it no longer wants: that build stops now.
      this.images.cancelStaleBuild(metadata.name);
      this.queue.add(objectKey('Image', metadata.name));
      // Projects that run this image follow its builds.
      for (const project of this.options.store.list('Project')) {
        if (project.spec.image === metadata.name)
          this.addProject(project.metadata.name, this.mayHavePool(project.metadata.name, project.spec.pool?.size));
      }
    }
    // A pruned revision may have held an old build of an Image: that Image collects it.
    if (event.object.kind === 'Revision' && event.type === 'DELETED') {
      const image = event.object.spec.template.image;
      if (image !== undefined && this.options.store.has('Image', image)) this.queue.add(objectKey('Image', image));
    }
    // Projects whose env reads this Secret: they start once it exists, and roll when it changes.
    if (kind === 'Secret')
      for (const project of projectsReading(this.options.store, metadata.name)) this.addProject(project, true);
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatchDocker?.();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.liveness.stop();
    await this.queue.stop();
    this.projects.close();
  }

  /** The proxy holds a request for a service with no target (or its targets are busy). */
  wake(service: string, requestId?: string): void {
    traceWake('controller-wake', service);
    const lease = leaseOfService(service);
    this.options.logger.info({ service, requestId }, 'wake requested by a held request');
    if (lease !== undefined) {
      this.queue.add(objectKey('Lease', lease));
      return;
    }
    // A revision's service (spec.traffic) is scaled by its project's reconcile.
    const project = projectOfRevisionService(service);
    if (project !== undefined) {
      this.queue.add(objectKey('Project', project));
      return;
    }
    this.projects.noteWake(service, requestId);
    this.startProject(service);
  }

  /**
   * A request held by another controller's proxy (a standby's, docs/cluster.md): this
   * process's proxy sees none of that load, so the wake counts as the request's arrival,
   * as a user's wake does, and the project idles from then on as after one.
   */
  wakeRelayed(service: string): void {
    if (leaseOfService(service) !== undefined) return this.wake(service);
    this.options.logger.info({ service }, 'wake requested by a request held by another proxy');
    this.projects.noteUserWake(service);
    this.startProject(service);
  }

  /**
   * A user asked for a project to start (`luma wake`, the console): it starts as it would
   * for a first request, through the same fast path, and then idles as after one.
   */
  wakeProject(name: string): void {
    this.options.logger.info({ project: name }, 'wake requested by a user');
    this.projects.noteUserWake(name);
    this.startProject(name);
  }

  /**
   * A project frozen by pauseAfter is thawed and routed at once, and a reconcile confirms
   * it shortly after; when the fast path declines, the reconcile does the whole job now.
   */
  private startProject(name: string): void {
    const key = objectKey('Project', name);
    void this.projects.resumePaused(name).then((resumed) => {
      if (resumed) this.queue.addAfter(key, this.resumeConfirmDelayMs);
      else this.queue.add(key);
    });
  }

  /** A certificate of a project's hosts changed state: its CertificateReady condition is rewritten. */
  certificateChanged(service: string): void {
    if (leaseOfService(service) === undefined) this.queue.add(objectKey('Project', service));
  }

  /** Reconciles everything soon, e.g. after the proxy restarted and lost what it was told. */
  requestResync(): void {
    this.resync({ full: true }).catch((error: unknown) =>
      this.options.logger.warn({ err: errorMessage(error) }, 'resync failed'),
    );
  }

  queueDepth(): number {
    return this.queue.depth();
  }

  /**
   * Level-triggered safety net: whatever no event announced (a container removed by hand)
   * is found here. One container list covers every owner; an owner is reconciled when its
   * containers differ from what the last resync saw (or on a full resync). The work is in
   * the number of containers, not of objects: an idle resync of 10,000 projects scaled to
   * zero looks at none of them.
   */
  async resync(options: { full?: boolean } = {}): Promise<void> {
    const full = (options.full ?? true) || this.resyncs % FULL_RESYNC_EVERY === 0;
    this.resyncs += 1;
    const seen = await this.containersByOwner();
    const keys = full || seen === undefined ? this.everyOwner(seen) : ownersChanged(this.lastSeen, seen);
    for (const key of keys) {
      const { kind, name } = parseKey(key);
      if (kind !== 'Project') {
        this.handOver(key);
        continue;
      }
      const withPool =
        full ||
        (seen?.get(key)?.includes(':pool') ?? false) ||
        this.mayHavePool(name, this.options.store.get('Project', name)?.spec.pool?.size);
      this.handOver(key);
      if (withPool) this.handOver(`Pool/${name}`);
    }
    this.lastSeen = seen ?? new Map();
  }

  private handNew(project: string, withPool: boolean): void {
    this.sightings.hand(objectKey('Project', project));
    if (withPool) this.sightings.hand(`Pool/${project}`);
  }

  /** Queues a key with the resync's listing: its reconcile reads its owner's containers from it. */
  private handOver(key: string): void {
    this.sightings.hand(key);
    this.queue.add(key);
  }

  /**
   * Per owner key with containers, a fingerprint of them (ids, states, spec hashes, roles);
   * an owner whose object is gone is marked so. Undefined when Docker could not be asked.
   * Objects are not in it: a change to an object is the store watch's to announce.
   */
  private async containersByOwner(): Promise<Map<string, string> | undefined> {
    let containers;
    const listing = this.sightings.beginList();
    try {
      containers = await this.options.runtime.list();
    } catch (error) {
      this.sightings.lost();
      this.options.logger.warn({ err: errorMessage(error) }, 'could not list containers during resync');
      return undefined;
    }
    this.sightings.record(listing, containers);
    containers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const parts = new Map<string, string[]>();
    for (const container of containers) {
      const { kind, name } = container.owner;
      const key = objectKey(kind, name);
      let list = parts.get(key);
      if (!list) {
        // Containers whose owner is gone are found here too: their reconcile removes them.
        list = this.options.store.has(kind, name) ? [] : ['gone'];
        parts.set(key, list);
      }
      list.push(`${container.id}:${container.state}:${container.specHash}:${container.role}`);
    }
    return new Map([...parts].map(([key, list]) => [key, list.join(',')]));
  }

  /** Every stored object's key, and the owners of every listed container (orphans included). */
  private everyOwner(seen: Map<string, string> | undefined): Set<string> {
    const keys = new Set<string>();
    for (const kind of ['Image', 'Project', 'Lease'] as const) {
      for (const name of this.options.store.names(kind)) keys.add(objectKey(kind, name));
    }
    for (const key of seen?.keys() ?? []) keys.add(key);
    return keys;
  }

  /** A project's serving instances and its pool converge separately. */
  private addProject(name: string, withPool: boolean): void {
    this.queue.add(objectKey('Project', name));
    if (withPool) this.queue.add(`Pool/${name}`);
  }

  /**
   * A project's leases run its image, port and hostname: a change to it (its deletion above
   * all) is theirs to follow now, not at their next expiry check or full resync.
   */
  private wakeLeasesOf(project: string): void {
    for (const lease of this.options.store.list('Lease')) {
      if (lease.spec.project === project) this.queue.add(objectKey('Lease', lease.metadata.name));
    }
  }

  /**
   * A project's own status writes do not wake it again (its reconcile wrote them, and a
   * second pass would only find nothing to do): a change to what it declares, its deletion
   * or its finalizers does. What happens to its containers comes from Docker's events.
   */
  private projectChanged(event: WatchEvent): boolean {
    const { name, generation, deletionTimestamp, finalizers } = event.object.metadata;
    if (event.type === 'DELETED') {
      this.projectMarks.delete(name);
      return true;
    }
    const mark = `${generation ?? 0}/${deletionTimestamp ?? ''}/${(finalizers ?? []).join(',')}`;
    if (event.type === 'MODIFIED' && this.projectMarks.get(name) === mark) return false;
    this.projectMarks.set(name, mark);
    return true;
  }

  /**
   * A project's pool needs a reconcile when it declares one or when pool containers of it
   * were seen: a project without either (most of them) costs one container list, not two.
   * Pool containers that appear or change are announced by Docker's events and the resync.
   */
  private mayHavePool(name: string, declaredSize: number | undefined): boolean {
    return (
      (declaredSize ?? 0) > 0 ||
      this.pools.hasContainersOf(name) ||
      (this.lastSeen.get(objectKey('Project', name))?.includes(':pool') ?? false)
    );
  }

  /** Every reconcile is timed, by kind and result. */
  private async dispatch(key: string): Promise<void | { requeueAfterMs?: number }> {
    const { kind } = parseKey(key);
    const started = performance.now();
    try {
      const result = await this.reconcileKey(key);
      this.metrics.reconciled(kind, 'success', (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      this.metrics.reconciled(kind, 'error', (performance.now() - started) / 1000);
      throw error;
    }
  }

  private async reconcileKey(key: string): Promise<void | { requeueAfterMs?: number }> {
    const { kind, name } = parseKey(key);
    const observed = this.sightings.take(key);
    switch (kind) {
      case 'Project':
        return this.projects.reconcile(name, observed);
      case 'Image':
        return this.images.reconcile(name);
      case 'Pool':
        return this.pools.reconcile(name, observed);
      case 'Lease':
        return this.leases.reconcile(name, observed);
      default:
        this.options.logger.warn({ key }, 'no reconciler for this kind yet');
        return;
    }
  }
}
