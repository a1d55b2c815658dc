import type { CrashLoopStatus, ProjectObject, ProjectRevisions, ProjectStatus } from '../model/types.js';
import {
  BUILT_IN_PROJECT_SETTINGS,
  type ProjectSettings,
  type ProjectSettingsResolver,
} from '../model/project-settings.js';
import type { ProxyManagement, ServiceInfo } from '../proxy/management.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { DockerUnavailableError } from '../runtime/errors.js';
import { errorMessage } from '../util/error-message.js';
import type { ActivitySnapshot } from '../proxy/management.js';
import { withWakeAt } from './scaling.js';
import type { Logger } from '../util/logger.js';
import { waitUntilReady } from '../util/readiness-probe.js';
import { systemClock, type Clock } from '../util/clock.js';
import { NO_CONTROLLER_METRICS, type ControllerMetrics } from '../metrics/controller-metrics.js';
import { NO_EVENTS, type EventHistory, type EventRecorder } from '../events/event-log.js';
import { setReadiness } from './conditions.js';
import { lastCrash, loopOf, recordCrash, recordReady, stateOf } from './crash-loop.js';
import { imageNotAllowed } from './image-policy.js';
import { AppExitedError, InstanceLifecycle, type ReadinessProber } from './instance-lifecycle.js';
import { crashedWhileServing, driftsSince, leftById, nextLeft, pastRetention } from './instances-left.js';
import type { LivenessMonitor } from './liveness-monitor.js';
import { LivenessReplacement } from './liveness-replacement.js';
import { InsufficientMemoryError, type IdleContainers, type MemoryBudget } from './memory-budget.js';
import { MemoryEviction } from './memory-eviction.js';
import { PausedResume } from './paused-resume.js';
import { ProjectLocks } from './project-lock.js';
import {
  planActions,
  planStarts,
  reportedFailure,
  requeueFor,
  sortContainers,
  type ActPlan,
  type StartPlan,
  type Sorted,
} from './project-plan.js';
import {
  crashLoopFailure,
  failure,
  ProjectReason,
  publicMessageOf,
  startFailure,
  secretFailure,
  type Failure,
} from './project-reasons.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { openedSecrets, scrubbingSecrets } from '../secrets/scrub.js';
import { resolveRunnable, routeFor } from './project-route.js';
import { buildProjectStatus, writeProjectStatus, type StatusFacts } from './project-status.js';
import { RevisionHistory } from './revision-history.js';
import { RolloutDriver, soonerOf, type RolloutOutcome } from './rollout-driver.js';
import { DEFAULT_REVISION_HISTORY_LIMIT } from './revisions.js';
import { NO_REVISION_STEPS, RevisionServing, type RevisionSteps } from './revision-serving.js';
import {
  heldTraffic,
  resolveTraffic,
  sameTraffic,
  splitRoute,
  withDeclaredTags,
  type ResolvedTraffic,
} from './traffic-route.js';
import type { ReconcileResult } from './work-queue.js';
import type { ObservedContainers } from './container-sightings.js';

export { containerSpecHash } from './project-route.js';
export { AppExitedError } from './instance-lifecycle.js';

// Converges one Project: reads the whole desired state (store) and actual state (Docker
// containers by label, proxy activity), decides with pure functions (project-plan.ts),
// acts on the difference, and writes status once. It is never told which event woke it,
// so running it twice in a row changes nothing. The phases, in order: observe (list,
// drift, crashes, retention, probe) → plan the starts → start → plan the rest → act
// (route, pause, stop, remove) → one status write → requeue.
//
// Two shortcuts sit beside it, each in its own module and under the same per-project lock:
// the paused-resume fast path (paused-resume.ts) and eviction for memory
// (memory-eviction.ts).
//
// What must survive a restart is in status: the crash loop (crashLoop), an eviction
// (evictedAt), the state each instance was left in and since when (instancesLeft: drift
// and the retention of stopped containers). Caches only, lost on restart: the readiness
// times and waking requests (InstanceLifecycle), what may be thawed (PausedResume).

export const DEFAULT_STOPPED_RETENTION_MS = 3_600_000;
const DEFAULT_STOP_TIMEOUT_SECONDS = 10;

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
  /** Specs resolved with the operator's defaults (idle timeout, memory); Luma's own when absent. */
  projectSettings?: ProjectSettingsResolver;
  stopTimeoutSeconds?: number;
  /** How long a stopped container is kept for a fast restart before it is removed. */
  stoppedRetentionMs?: number;
  /** The URL a hostname is reached at through the proxy (over HTTPS when `tls`), for status.url. */
  publicUrl: (host: string, tls?: boolean) => string;
  /** Cold starts by tier and phase, scale events. */
  metrics?: ControllerMetrics;
  /** Container lifecycle (created, started, ready, paused, stopped): `luma events` and webhooks. */
  events?: EventRecorder;
  /** The events recorded so far: a rollout event decided before a restart is announced once. */
  eventHistory?: EventHistory;
  /** Admission by memory; every start is admitted when absent. */
  memory?: MemoryBudget;
  /** The operator's image allowlist (absent: every image may run), checked before every start. */
  imageAllowlist?: readonly string[];
  /** The readiness probe (HTTP or TCP on loopback); unit tests inject one. */
  probe?: ReadinessProber;
  /** Timers of the exit watch of a starting container (systemClock when absent); unit tests inject one. */
  clock?: Clock;
  /** Checks serving instances (spec.liveness); without it nothing is checked. */
  liveness?: LivenessMonitor;
  /** Opens the values of variables taken from Secrets; a project that reads one waits without it. */
  secrets?: SecretBox;
  /** Revisions kept per project (operator setting revisionHistoryLimit). */
  revisionHistoryLimit?: number;
}

/** What the observe phase found, for the phases after it. */
interface Observed {
  project: ProjectObject;
  settings: ProjectSettings;
  hash: string;
  /** The Revision of what the project declares now: its instances carry its name. */
  revision: string;
  /** spec.traffic resolved: status.traffic, and the split of the project's route (absent: no split). */
  traffic: ResolvedTraffic;
  sorted: Sorted;
  /** Stopped containers still kept (the expired ones are gone). */
  stopped: ManagedContainer[];
  serving: ManagedContainer[];
  /** Instances that failed their liveness check: out of the route, replaced, then removed. */
  failed: ManagedContainer[];
  service: ServiceInfo | undefined;
  /** The proxy's activity, with a user's wake (`luma wake`) counted as a request. */
  activity: ActivitySnapshot | undefined;
  loop: CrashLoopStatus | undefined;
  evicted: boolean;
  /** Requests, or a user's wake since the eviction: the eviction mark goes. */
  clearsEviction: boolean;
}

/** What the starts brought. */
interface Started {
  ready: ManagedContainer[];
  failure?: Failure | undefined;
  loop: CrashLoopStatus | undefined;
}

export class ProjectReconciler implements IdleContainers {
  private readonly locks = new ProjectLocks();
  /**
   * When a user last asked to wake each project (`luma wake`, the console): read as request
   * activity. A cache: lost on restart, as the proxy's own activity is.
   */
  private readonly wokenAt = new Map<string, number>();
  private readonly lifecycle: InstanceLifecycle;
  private readonly resumes: PausedResume;
  private readonly eviction: MemoryEviction;
  private readonly liveness: LivenessReplacement;
  private readonly now: () => number;
  private readonly metrics: ControllerMetrics;
  private readonly events: EventRecorder;
  private readonly projectSettings: ProjectSettingsResolver;
  private readonly revisions: RevisionHistory;
  private readonly serving: RevisionServing;
  private readonly rollouts: RolloutDriver;

  constructor(private readonly options: ProjectReconcilerOptions) {
    this.now = options.now ?? Date.now;
    this.projectSettings = options.projectSettings ?? BUILT_IN_PROJECT_SETTINGS;
    this.metrics = options.metrics ?? NO_CONTROLLER_METRICS;
    this.events = options.events ?? NO_EVENTS;
    this.revisions = new RevisionHistory({
      store: options.store,
      logger: options.logger,
      events: this.events,
      limit: options.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT,
      now: this.now,
    });
    this.rollouts = new RolloutDriver({
      proxy: options.proxy,
      events: this.events,
      ...(options.eventHistory ? { history: options.eventHistory } : {}),
      logger: options.logger,
      now: this.now,
    });
    this.lifecycle = new InstanceLifecycle({
      runtime: options.runtime,
      logger: options.logger,
      metrics: this.metrics,
      events: this.events,
      now: this.now,
      timers: options.clock ?? systemClock,
      probe: options.probe ?? waitUntilReady,
      memory: options.memory,
      stopTimeoutSeconds: options.stopTimeoutSeconds ?? DEFAULT_STOP_TIMEOUT_SECONDS,
    });
    const shared = { store: options.store, proxy: options.proxy, lifecycle: this.lifecycle, locks: this.locks };
    const clocks = { now: this.now, projectSettings: this.projectSettings };
    this.resumes = new PausedResume({
      ...shared,
      ...clocks,
      ...(options.secrets ? { secrets: options.secrets } : {}),
      runtime: options.runtime,
      logger: options.logger,
      metrics: this.metrics,
    });
    this.eviction = new MemoryEviction({ ...shared, ...clocks, resumes: this.resumes });
    const { liveness: monitor, proxy, logger } = options;
    this.liveness = new LivenessReplacement({ monitor, proxy, lifecycle: this.lifecycle, logger });
    this.serving = new RevisionServing({
      ...shared,
      ...clocks,
      runtime: options.runtime,
      logger,
      secrets: options.secrets,
    });
  }

  /** `observed`: the containers a resync saw, read instead of asking the engine while still current. */
  async reconcile(name: string, observed?: ObservedContainers): Promise<ReconcileResult> {
    // From now until this reconcile has acted, nothing is thawed on the side: the next
    // view of what may be resumed is the one this reconcile leaves behind.
    this.resumes.withdraw(name);
    // A resume or eviction in progress finishes first, so what it did is part of what this reads.
    const release = await this.locks.lock(name, 'reconcile');
    try {
      return await this.reconcileLocked(name, observed);
    } finally {
      release();
    }
  }

  /** Remembers which request asked for a wake, so the cold start's log lines name it. */
  noteWake(name: string, requestId: string | undefined): void {
    this.lifecycle.noteWake(name, requestId);
  }

  /** A user asked for the project to start without a request: it starts, and idles, as for one. */
  noteUserWake(name: string): void {
    this.wokenAt.set(name, this.now());
  }

  /** The wake fast path (see paused-resume.ts): true when a paused instance was thawed and routed. */
  resumePaused(name: string): Promise<boolean> {
    return this.resumes.resume(name);
  }

  describe(
    containers: readonly ManagedContainer[],
    startingFor: string,
  ): Promise<Map<string, { idle: boolean; lastUsedAt: number }>> {
    return this.eviction.describe(containers, startingFor);
  }

  evict(container: ManagedContainer, reason: string): Promise<boolean> {
    return this.eviction.evict(container, reason);
  }

  /** Stops following the store (the controller stops). */
  close(): void {
    this.revisions.close();
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
      const settings = this.projectSettings.forProject(project.spec);
      // A refused route (a hostname another project holds) is left to the reconcile to report.
      await proxy
        .deploy(routeFor(name, settings, []))
        .catch((error: unknown) =>
          logger.warn({ project: name, err: errorMessage(error) }, 'no route before the first reconcile'),
        );
    }
  }

  private async reconcileLocked(name: string, observed: ObservedContainers | undefined): Promise<ReconcileResult> {
    const { store } = this.options;
    const project = store.get('Project', name);
    const containers =
      observed?.list({ kind: 'Project', name, role: 'instance' }) ?? (await this.listInstances(name, project));
    if (!project) {
      await this.tearDown(name, containers);
      await this.serving.removeAll(name);
      this.wokenAt.delete(name);
      this.metrics.projectRemoved(name);
      return;
    }
    if (project.metadata.deletionTimestamp) return this.finalize(project, containers);
    if (!(project.metadata.finalizers ?? []).includes(PROJECT_FINALIZER)) {
      // Projects stored before the finalizer existed get it now.
      await store.setFinalizers('Project', name, [...(project.metadata.finalizers ?? []), PROJECT_FINALIZER]);
    }
    this.reportDrift(project, containers);
    this.metrics.projectObserved(name);
    return this.converge(project, containers);
  }

  /** Pool containers carry the project's labels too; they are the pool reconciler's. */
  private async listInstances(name: string, project: ProjectObject | undefined): Promise<ManagedContainer[]> {
    try {
      return await this.options.runtime.list({ kind: 'Project', name, role: 'instance' });
    } catch (error) {
      if (error instanceof DockerUnavailableError && project) await this.engineUnreachable(project, error);
      throw error;
    }
  }

  private async converge(project: ProjectObject, containers: ManagedContainer[]): Promise<ReconcileResult> {
    const runnable = resolveRunnable(this.options.store, project, this.projectSettings, this.options.secrets);
    if ('waitingFor' in runnable)
      return this.waitFor(project, runnable.declared, failure(ProjectReason.ImageNotReady, runnable.waitingFor));
    if ('missingSecret' in runnable)
      return this.waitFor(project, runnable.declared, secretFailure(runnable.missingSecret));
    const refused = imageNotAllowed(runnable.settings.image, runnable.declared.image, this.options.imageAllowlist);
    if (refused !== undefined) return this.refuseImage(project, runnable.settings, containers, refused);

    const revision = await this.revisions.record(project, runnable.settings.image);
    const { traffic, revisionSteps } = await this.routeRevisions(project, revision.metadata.name);
    const seen = await this.observe(project, runnable.settings, runnable.hash, revision.metadata.name, containers);
    seen.traffic = traffic;
    // With a split, the revision the project runs may get no share until it is ready:
    // it starts once anyway, as for a request, so that it can become the latest ready.
    if (traffic.wakeOwn) seen.activity = withWakeAt(seen.activity, this.now());
    const name = project.metadata.name;
    const others = [...seen.serving, ...seen.sorted.outdated];
    const drained = this.liveness.takeOut(name, seen.settings, seen.failed, others, seen.service);
    const plan = planStarts({
      settings: seen.settings,
      serving: seen.serving.length,
      // Paused instances served until they were frozen: without request history (after a
      // restart) their readiness still starts the idle clock, or the next reconcile would
      // stop them at once instead of at idleTimeout.
      servingSince: latest([...seen.serving, ...seen.sorted.paused].map((c) => this.lifecycle.readyAt(c))),
      paused: seen.sorted.paused,
      stopped: seen.stopped,
      activity: seen.activity,
      evicted: seen.evicted,
      loop: seen.loop,
      now: this.now(),
    });
    const [started, revisionsNext] = await Promise.all([this.startAll(seen, plan), revisionSteps.scale()]);
    const serving = this.lifecycle.byReadiness([...seen.serving, ...started.ready]);
    const actions = planActions({
      decision: plan.decision,
      serving,
      started: new Set(started.ready.map((container) => container.id)),
      paused: seen.sorted.paused,
      stopped: seen.stopped,
      outdated: seen.sorted.outdated,
      failure: started.failure,
    });
    await this.act(seen, actions, plan);
    await revisionSteps.dropUnserved();
    await this.liveness.retire(seen.failed, drained);
    this.liveness.watch(name, seen.settings, actions.targets);
    const revisions = await this.noteRevisions(seen, actions);
    const rollout = await this.rollouts.step(seen.project, revisions);
    await this.writeOutcome(seen, actions, started, revisions, rollout);
    const next = requeueFor(started.failure, plan.decision, started.loop, this.now());
    if (next instanceof Error) throw new Error(`project ${name}: ${next.message}`);
    const rerouted = rollout.traffic !== null && !sameTraffic(rollout.traffic, seen.traffic.status);
    // A split the rollout has just moved is routed by the next reconcile, at once.
    const soon = rerouted ? { requeueAfterMs: 0 } : rollout.requeue;
    return soonerOf(this.sooner(next, seen, revisions, revisionsNext), soon);
  }

  /**
   * The project's own requeue, or sooner: when a revision of the split needs a look, or at
   * once when a revision just became the latest ready (the split routes it next).
   */
  private sooner(
    next: ReconcileResult,
    seen: Observed,
    revisions: ProjectRevisions,
    revisionsAt: number | undefined,
  ): ReconcileResult {
    const becameReady = seen.traffic.shares.length > 0 && revisions.latestReady !== seen.traffic.latestReady;
    const candidates = [
      next?.requeueAfterMs,
      becameReady ? 0 : undefined,
      revisionsAt === undefined ? undefined : Math.max(0, revisionsAt - this.now()),
    ].filter((ms): ms is number => ms !== undefined);
    return candidates.length > 0 ? { requeueAfterMs: Math.min(...candidates) } : next;
  }

  /**
   * spec.traffic resolved, and the other revisions of the split routed before the
   * project's route names them. A project that never split pays nothing for it.
   */
  private async routeRevisions(
    project: ProjectObject,
    own: string,
  ): Promise<{ traffic: ResolvedTraffic; revisionSteps: RevisionSteps }> {
    const traffic = resolveTraffic(project, this.revisions.of(project), own, heldTraffic(project, own));
    const hadOthers = (project.status?.traffic ?? []).some((target) => target.revisionName !== own);
    const split = traffic.shares.length > 0 || hadOthers;
    const revisionSteps = split ? await this.serving.route(project, traffic.shares, own) : NO_REVISION_STEPS;
    return { traffic, revisionSteps };
  }

  /** Observe: sorts the containers, clears out what is not the project's, notes crashes, probes what runs. */
  private async observe(
    project: ProjectObject,
    settings: ProjectSettings,
    hash: string,
    revision: string,
    containers: ManagedContainer[],
  ): Promise<Observed> {
    const sorted = sortContainers(containers, project.metadata.uid ?? '', hash, revision);
    await Promise.all([...sorted.foreign, ...sorted.broken].map((container) => this.lifecycle.remove(container)));
    const previous = project.status ?? {};
    const left = leftById(previous.instancesLeft);
    const loop = await this.noteCrashes(
      project,
      hash,
      loopOf(previous.crashLoop, hash),
      crashedWhileServing(left, sorted.stopped),
    );
    // Stopped containers are kept for a fast start, but not forever.
    const retention = this.options.stoppedRetentionMs ?? DEFAULT_STOPPED_RETENTION_MS;
    const expired = new Set(pastRetention(left, sorted.stopped, this.now(), retention));
    for (const container of expired) await this.lifecycle.remove(container);
    // Failed liveness: neither serving nor a candidate for a restart.
    const { alive, failed } = this.liveness.split([...sorted.running, ...sorted.stopped]);
    // Adopted or surviving containers are probed once before they get traffic.
    const serving: ManagedContainer[] = [];
    for (const container of sorted.running) {
      if (alive.includes(container) && (await this.lifecycle.ensureReady(container, settings))) serving.push(container);
    }
    const service = await this.options.proxy.getService(project.metadata.name);
    const load = (service?.activity.inFlight ?? 0) + (service?.activity.waiting ?? 0);
    const wokenAt = this.wokenAt.get(project.metadata.name);
    // Like a request, a wake asked for by a user outweighs having made room for another start.
    const woken = wokenAt !== undefined && (!previous.evictedAt || wokenAt >= Date.parse(previous.evictedAt));
    const stopped = sorted.stopped.filter((container) => !expired.has(container) && alive.includes(container));
    return {
      project,
      settings,
      hash,
      revision,
      traffic: { status: [], shares: [], wakeOwn: false },
      sorted,
      stopped,
      serving,
      failed,
      service,
      activity: withWakeAt(service?.activity, wokenAt),
      loop,
      evicted: !!previous.evictedAt && load === 0 && !woken,
      clearsEviction: !!previous.evictedAt && (load > 0 || woken),
    };
  }

  /**
   * An instance that was left serving and is now found exited, though Luma did not stop it,
   * crashed while serving: that counts towards the loop too.
   */
  private async noteCrashes(
    project: ProjectObject,
    hash: string,
    loop: CrashLoopStatus | undefined,
    crashed: ManagedContainer[],
  ): Promise<CrashLoopStatus | undefined> {
    let current = loop;
    for (const container of crashed) {
      const lastLines = await this.lifecycle.lastLines(container.id);
      current = recordCrash(current, hash, { exitCode: container.exitCode, lastLines }, this.now());
      this.lifecycle.forgetReady(container);
      const { exitCode, crashes } = current;
      this.options.logger.warn(
        { container: container.name, exitCode, crashes },
        'serving instance exited; backing off',
      );
    }
    return current;
  }

  /** Start: the missing instances, fastest first; a crash, a refusal for memory or an engine error is the failure. */
  private async startAll(seen: Observed, plan: StartPlan): Promise<Started> {
    const { project, settings, hash } = seen;
    const name = project.metadata.name;
    if (plan.blocked) return { ready: [], failure: plan.blocked, loop: seen.loop };
    if (plan.deficit === 0) return { ready: [], loop: seen.loop };
    if (plan.needsImage) {
      const exists = await this.lifecycle.timed(name, 'fresh', 'image_ready', () =>
        this.options.runtime.imageExists(settings.image),
      );
      const message = `image "${settings.image}" is not present on this machine; build it or declare an Image`;
      if (!exists) return { ready: [], failure: failure(ProjectReason.ImageNotFound, message), loop: seen.loop };
    }
    const announced = plan.announce ? this.announceStarting(seen, plan) : Promise.resolve();
    // The engine's error may quote a variable it refused: no secret value goes further.
    const opened = openedSecrets(settings.env, settings.secretEnv);
    const results = await Promise.allSettled(
      Array.from({ length: plan.deficit }, (_, index) =>
        scrubbingSecrets(opened, () =>
          this.lifecycle.start(project, settings, hash, plan.candidates[index], seen.revision),
        ),
      ),
    );
    await announced;
    const outcome: Started = { ready: [], loop: seen.loop };
    for (const result of results) {
      if (result.status === 'fulfilled') this.onStarted(name, result.value, outcome);
      else await this.onStartFailed(name, hash, result.reason, outcome);
    }
    return outcome;
  }

  private onStarted(name: string, container: ManagedContainer, outcome: Started): void {
    outcome.ready.push(container);
    this.metrics.scaled(name, 'up', 1);
    if (outcome.loop) outcome.loop = recordReady(outcome.loop, this.now());
  }

  private async onStartFailed(name: string, hash: string, reason: unknown, outcome: Started): Promise<void> {
    if (reason instanceof InsufficientMemoryError) {
      // Not a failure of the app: the start waits for room, and its requests stay held.
      outcome.failure = failure(ProjectReason.InsufficientMemory, reason.message);
      this.lifecycle.record(name, 'Warning', ProjectReason.InsufficientMemory, reason.message);
      return;
    }
    this.metrics.instanceStartFailed(name);
    if (reason instanceof AppExitedError) {
      const loop = recordCrash(outcome.loop, hash, reason.crash, this.now());
      outcome.loop = loop;
      const { exitCode, crashes, backoffMs } = loop;
      this.options.logger.warn(
        { project: name, exitCode, crashes, backoffMs },
        'app exited before it became ready; backing off',
      );
      outcome.failure = crashLoopFailure(stateOf(loop), this.now());
      this.lifecycle.record(name, 'Warning', ProjectReason.CrashLoopBackOff, publicMessageOf(outcome.failure));
      return;
    }
    outcome.failure = startFailure(reason);
    this.lifecycle.record(name, 'Warning', ProjectReason.StartFailed, outcome.failure.message);
  }

  /** Status says Starting while a restart or create runs (a crash loop keeps saying why it is one). */
  private announceStarting(seen: Observed, plan: StartPlan): Promise<void> {
    const crashed = lastCrash(seen.loop);
    const stoppedNow = seen.sorted.mine.filter((c) => c.state === 'exited' || c.state === 'created').length;
    return this.writeStatus(seen.project, seen.settings, {
      phase: 'Starting',
      serving: seen.serving.length,
      starting: plan.deficit,
      paused: 0,
      stopped: Math.max(0, stoppedNow - plan.deficit),
      failure: crashed ? crashLoopFailure(crashed, this.now(), true) : undefined,
    });
  }

  /** Act: route first (deploy returns once removed targets drained), then freeze, stop and remove. */
  private async act(seen: Observed, actions: ActPlan, plan: StartPlan): Promise<void> {
    const name = seen.project.metadata.name;
    const { decision } = plan;
    const route = routeFor(name, seen.settings, actions.targets, actions.unavailableReason);
    await this.options.proxy.deploy(splitRoute(route, seen.traffic, seen.revision));
    await Promise.all(actions.pause.map((container) => this.lifecycle.pause(container, decision.reason)));
    await Promise.all(actions.stop.map((container) => this.lifecycle.stop(container)));
    await Promise.all(actions.remove.map((container) => this.lifecycle.remove(container)));
    const count = actions.surplus.length;
    if (count > 0)
      this.options.logger.info(
        { project: name, count, action: decision.surplus, reason: decision.reason },
        'scaled down',
      );
    this.metrics.scaled(name, 'down', count);
    this.resumes.offer(name, actions.wakeable);
  }

  /**
   * The revision that runs now is the latest created; once its instances take the traffic
   * it is the latest ready (older ready ones Retired), and revisions past the limit go.
   */
  private async noteRevisions(seen: Observed, actions: ActPlan): Promise<ProjectRevisions> {
    const { project, revision } = seen;
    const previous = project.status?.revisions ?? {};
    const servesNow = actions.targets.some((container) => !isOutdated(seen, container));
    const latestReady = servesNow ? revision : previous.latestReady;
    if (servesNow && previous.latestReady !== revision) await this.revisions.served(project, revision);
    // Revisions the split routes stay, whatever their age.
    const routed = seen.traffic.status.map((target) => target.revisionName);
    if (previous.latestCreated !== revision || previous.latestReady !== latestReady)
      await this.revisions.prune(project, new Set([revision, ...(latestReady ? [latestReady] : []), ...routed]));
    return { latestCreated: revision, ...(latestReady ? { latestReady } : {}) };
  }

  /** The one status write of a converge (counts after the actions, and the decisions a restart must keep), then the rollout's events. */
  private async writeOutcome(
    seen: Observed,
    actions: ActPlan,
    started: Started,
    revisions: ProjectRevisions,
    rollout: RolloutOutcome,
  ): Promise<void> {
    const now = this.now();
    await this.writeStatus(seen.project, seen.settings, {
      phase: actions.phase,
      serving: actions.targets.length,
      starting: 0,
      paused: actions.paused,
      stopped: actions.stopped,
      failure: reportedFailure(started.failure, actions.targets.length, started.loop, now),
      lastActivityAt: seen.service?.activity.lastActivityAt,
      service: seen.service,
      crashLoop: started.loop ?? null,
      ...(seen.clearsEviction ? { evictedAt: null } : {}),
      instancesLeft: nextLeft(leftById(seen.project.status?.instancesLeft), actions.left, now),
      revisions,
      rollout: rollout.rollout,
      // While a rollout holds the split, the split it decided (declared tags kept at 0 %);
      // else spec.traffic resolved.
      traffic: rollout.traffic ? withDeclaredTags(rollout.traffic, seen.traffic.status) : seen.traffic.status,
    });
    // The rollout's events only once its status is written: a crash before loses none (the
    // next converge announces them), and one after repeats none.
    this.rollouts.announce(seen.project.metadata.name, rollout.rollout);
  }

  /** A deleted project: its route and every container of it go, then its finalizer, and with it the object. */
  private async finalize(project: ProjectObject, instances: ManagedContainer[]): Promise<void> {
    const name = project.metadata.name;
    const pool = await this.options.runtime.list({ kind: 'Project', name, role: 'pool' });
    await this.tearDown(name, [...instances, ...pool]);
    await this.serving.removeAll(name);
    await this.revisions.removeAll(name);
    const finalizers = (project.metadata.finalizers ?? []).filter((finalizer) => finalizer !== PROJECT_FINALIZER);
    await this.options.store.setFinalizers('Project', name, finalizers);
  }

  private async tearDown(name: string, containers: ManagedContainer[]): Promise<void> {
    this.resumes.withdraw(name);
    this.liveness.forgetProject(name);
    if (await this.options.proxy.getService(name)) await this.options.proxy.remove(name);
    await Promise.all(containers.map((container) => this.lifecycle.remove(container)));
    if (containers.length > 0)
      this.options.logger.info({ project: name, removed: containers.length }, 'removed containers of deleted project');
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
        const settings = this.projectSettings.forProject(project.spec);
        const reason = `the Docker engine is unreachable, so ${name} cannot be started; Luma starts it once the engine is back`;
        await proxy.deploy(routeFor(name, settings, [], reason));
      }
      const readiness = {
        state: 'reconciling',
        reason: ProjectReason.DockerUnavailable,
        message: error.message,
      } as const;
      const now = new Date(this.now());
      await this.options.store.mutateStatus('Project', name, (current) => ({
        ...current.status,
        conditions: setReadiness(current.status?.conditions, readiness, now),
      }));
    } catch (reportError) {
      logger.warn({ project: name, err: errorMessage(reportError) }, 'could not report the unreachable engine');
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
    this.resumes.withdraw(name);
    this.liveness.watch(name, settings, []);
    await this.options.proxy.deploy(routeFor(name, settings, [], message));
    const live = containers.filter((c) => c.state === 'running' || c.state === 'paused' || c.state === 'restarting');
    await Promise.all(live.map((container) => this.lifecycle.stop(container)));
    if (live.length > 0)
      this.options.logger.warn(
        { project: name, stopped: live.length, reason: message },
        'image not allowed; instances stopped',
      );
    const stopped = containers.filter((c) => c.state === 'exited' || c.state === 'created').length;
    await this.writeStatus(project, settings, {
      phase: 'Failed',
      serving: 0,
      starting: 0,
      paused: 0,
      stopped,
      failure: failure(ProjectReason.ImageNotAllowed, message),
      instancesLeft: [],
    });
    return;
  }

  /**
   * No image to run yet, or a Secret it reads is missing: requests get 503 with the reason;
   * the Image's progress or the Secret's arrival wakes us.
   */
  private async waitFor(project: ProjectObject, settings: ProjectSettings, failed: Failure): Promise<ReconcileResult> {
    this.liveness.watch(project.metadata.name, settings, []);
    await this.options.proxy.deploy(routeFor(project.metadata.name, settings, [], publicMessageOf(failed)));
    const facts = { phase: 'Pending', serving: 0, starting: 0, paused: 0, stopped: 0 } as const;
    await this.writeStatus(project, settings, { ...facts, failure: failed, instancesLeft: [] });
    return;
  }

  /** Compares what Docker shows with the state the last reconcile left (status), and says what drifted. */
  private reportDrift(project: ProjectObject, containers: ManagedContainer[]): void {
    const name = project.metadata.name;
    for (const drift of driftsSince(leftById(project.status?.instancesLeft), containers)) {
      this.options.logger.warn({ project: name, drift }, 'drift: putting back what the project declares');
      this.lifecycle.record(name, 'Warning', 'DriftDetected', `${drift}; putting back what the project declares`);
    }
  }

  /**
   * Builds status from the one this reconcile started from (so a Starting note written
   * mid-way does not move the conditions' transition times) and writes it; a failed write
   * is logged, and the next reconcile writes again.
   */
  private async writeStatus(project: ProjectObject, settings: ProjectSettings, facts: StatusFacts): Promise<void> {
    const { store, publicUrl, logger } = this.options;
    const name = project.metadata.name;
    const previous: ProjectStatus = project.status ?? {};
    const status = buildProjectStatus(project, previous, settings, facts, { now: this.now(), publicUrl });
    try {
      await writeProjectStatus(store, name, status);
    } catch (error) {
      logger.error({ project: name, err: errorMessage(error) }, 'could not write status');
    }
  }
}

/** Targets that are not of the current revision are outdated ones kept serving while a replacement cannot start. */
function isOutdated(seen: Observed, container: ManagedContainer): boolean {
  return seen.sorted.outdated.some((outdated) => outdated.id === container.id);
}

function latest(values: Array<number | undefined>): number | undefined {
  const defined = values.filter((value): value is number => value !== undefined);
  return defined.length > 0 ? Math.max(...defined) : undefined;
}
