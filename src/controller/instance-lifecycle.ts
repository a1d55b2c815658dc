import type { ProjectObject } from '../model/types.js';
import type { ProjectSettings } from '../model/project-settings.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/runtime.js';
import type { ContainerRole } from '../runtime/labels.js';
import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/error-message.js';
import type { Clock } from '../util/clock.js';
import { waitUntilReady } from '../util/readiness-probe.js';
import type { ColdStartTier, ControllerMetrics } from '../metrics/controller-metrics.js';
import type { EventRecorder } from '../events/event-log.js';
import { CRASH_LOG_LINES, type Crash } from './crash-loop.js';
import { startAdmitted, type MemoryBudget } from './memory-budget.js';
import { hostOf, processOf } from './project-route.js';

// How one instance of a project is started, found ready, stopped and removed: the engine
// calls, the readiness probe, and the cold-start metrics and events around them. The
// project reconciler and its fast paths decide which; this does it.
//
// Caches only (lost on restart, rebuilt by probing once): readySince (when each instance
// passed readiness here) and wokenBy (the request that asked for the next cold start).

/** How often a starting container is looked at, so that one that exits fails at once rather than at startupTimeout. */
const EXIT_WATCH_INTERVAL_MS = 100;

/** Waits until the app at host:port answers its readiness check (see util/readiness-probe). */
export type ReadinessProber = typeof waitUntilReady;

/** The app's process ended while Luma waited for it to become ready. */
export class AppExitedError extends Error {
  readonly code = 'AppExited';
  constructor(readonly crash: Crash) {
    super(`the app exited${crash.exitCode === undefined ? '' : ` with code ${crash.exitCode}`} before it became ready`);
    this.name = 'AppExitedError';
  }
}

/** What a new container's labels say it was made from: the spec hash, and the revision it runs. */
interface ContainerMade {
  hash: string;
  revision?: string;
  /** `revision` for an instance of a revision served beside the one the project runs (revision-serving.ts). */
  role?: ContainerRole;
}

export interface InstanceLifecycleOptions {
  runtime: ContainerRuntime;
  logger: Logger;
  metrics: ControllerMetrics;
  events: EventRecorder;
  now: () => number;
  /** Runs the exit watch's looks: unit tests inject one, so a crash is seen without a real wait. */
  timers: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  probe: ReadinessProber;
  memory?: MemoryBudget | undefined;
  stopTimeoutSeconds: number;
}

export class InstanceLifecycle {
  /** Containers whose readiness probe passed, with the time it did (the idle clock's floor). */
  private readonly readySince = new Map<string, number>();
  /** The request that last asked to wake each project, until its cold start is logged. */
  private readonly wokenBy = new Map<string, string>();

  constructor(private readonly options: InstanceLifecycleOptions) {}

  readyAt(container: ManagedContainer): number | undefined {
    return this.readySince.get(container.id);
  }

  /** Most recently ready first. */
  byReadiness(containers: readonly ManagedContainer[]): ManagedContainer[] {
    return [...containers].sort((a, b) => (this.readyAt(b) ?? 0) - (this.readyAt(a) ?? 0));
  }

  forgetReady(container: ManagedContainer): void {
    this.readySince.delete(container.id);
  }

  noteWake(name: string, requestId: string | undefined): void {
    if (requestId !== undefined) this.wokenBy.set(name, requestId);
  }

  /** The id of the request that woke the project, once: the next cold start was not its doing. */
  takeWake(name: string): string | undefined {
    const id = this.wokenBy.get(name);
    this.wokenBy.delete(name);
    return id;
  }

  /** A running container not yet seen ready here (adopted after a restart) is probed once; one that fails goes. */
  async ensureReady(container: ManagedContainer, settings: ProjectSettings): Promise<boolean> {
    if (this.readySince.has(container.id)) return true;
    if (container.state !== 'running' || !container.hostPort) return false;
    try {
      await this.options.probe(hostOf(container), container.hostPort, settings.readiness, settings.startupTimeoutMs);
      this.readySince.set(container.id, this.options.now());
      return true;
    } catch (error) {
      this.options.logger.warn(
        { container: container.name, err: errorMessage(error) },
        'running container never became ready; removing it',
      );
      await this.remove(container);
      return false;
    }
  }

  /** Thaws a paused container or restarts a stopped one when given (fast), else creates a fresh one. */
  async start(
    project: ProjectObject,
    settings: ProjectSettings,
    hash: string,
    candidate: ManagedContainer | undefined,
    revision?: string,
    role?: ContainerRole,
  ): Promise<ManagedContainer> {
    const name = project.metadata.name;
    if (candidate?.state === 'paused' && candidate.hostPort) return this.unpause(name, settings, candidate);
    const startedAt = this.options.now();
    const made = { hash, ...(revision ? { revision } : {}), ...(role ? { role } : {}) };
    return startAdmitted(this.options.memory, `Project/${name}`, settings.memoryBytes, (running) =>
      this.startContainer(project, settings, made, candidate, startedAt, running),
    );
  }

  private async unpause(name: string, settings: ProjectSettings, paused: ManagedContainer): Promise<ManagedContainer> {
    const startedAt = this.options.now();
    const hostPort = paused.hostPort ?? 0;
    await this.timed(name, 'paused', 'start', () => this.options.runtime.unpause(paused.id));
    this.record(name, 'Normal', 'ContainerStarted', `container ${paused.name} resumed`);
    // It passed readiness before it was frozen; after a controller restart, check once.
    if (!this.readySince.has(paused.id)) {
      await this.timed(name, 'paused', 'readiness', () =>
        this.options.probe(hostOf(paused), hostPort, settings.readiness, settings.startupTimeoutMs),
      );
      this.readySince.set(paused.id, this.options.now());
    }
    this.coldStartDone(name, paused.name, 'paused', startedAt);
    this.logReady(name, paused.name, 'paused', startedAt, 'instance resumed');
    return { ...paused, state: 'running' };
  }

  /** Restarts a stopped container or creates and starts a fresh one, and waits until it is ready. */
  private async startContainer(
    project: ProjectObject,
    settings: ProjectSettings,
    made: ContainerMade,
    stopped: ManagedContainer | undefined,
    startedAt: number,
    onRunning: () => void,
  ): Promise<ManagedContainer> {
    const name = project.metadata.name;
    const tier: ColdStartTier = stopped ? 'stopped' : 'fresh';
    const container = stopped ?? (await this.create(project, settings, made));
    const running = await this.timed(name, tier, 'start', () => this.options.runtime.start(container.id));
    onRunning();
    // Exited before Docker was even asked how it runs: the quickest crash there is.
    if (running.state === 'exited' || running.state === 'dead') {
      throw new AppExitedError({ exitCode: running.exitCode, lastLines: await this.lastLines(running.id) });
    }
    const hostPort = running.hostPort;
    if (!hostPort) throw new Error(`container ${running.name} started without a published port`);
    this.record(name, 'Normal', 'ContainerStarted', `container ${running.name} started`);
    try {
      await this.timed(name, tier, 'readiness', () => this.waitReadyOrExit(running, hostPort, settings));
    } catch (error) {
      await this.options.runtime.stop(running.id, 0).catch(() => undefined);
      throw error;
    }
    this.readySince.set(running.id, this.options.now());
    this.coldStartDone(name, running.name, tier, startedAt);
    this.logReady(name, running.name, tier, startedAt, 'instance ready');
    return running;
  }

  private async create(
    project: ProjectObject,
    settings: ProjectSettings,
    made: ContainerMade,
  ): Promise<ManagedContainer> {
    const name = project.metadata.name;
    const container = await this.timed(name, 'fresh', 'create', () =>
      this.options.runtime.create({
        owner: { kind: 'Project', name, uid: project.metadata.uid ?? '' },
        specHash: made.hash,
        ...(made.revision ? { revision: made.revision } : {}),
        ...(made.role ? { role: made.role } : {}),
        image: settings.image,
        port: settings.port,
        env: settings.env,
        ...processOf(settings),
        capabilities: settings.capabilities,
        ...(settings.cpuMillis ? { cpuMillis: settings.cpuMillis } : {}),
        ...(settings.memoryBytes ? { memoryBytes: settings.memoryBytes } : {}),
      }),
    );
    this.record(name, 'Normal', 'ContainerCreated', `container ${container.name} created from ${settings.image}`);
    return container;
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
    const { timers } = this.options;
    let exited: ManagedContainer | undefined;
    let timer: unknown;
    let watching = true;
    const look = async (): Promise<void> => {
      const current = await this.options.runtime.inspect(container.id).catch(() => container);
      if (!watching) return;
      if (!current || current.state === 'exited' || current.state === 'dead')
        exited = current ?? { ...container, state: 'exited' };
      else timer = timers.setTimeout(() => void look(), EXIT_WATCH_INTERVAL_MS);
    };
    timer = timers.setTimeout(() => void look(), EXIT_WATCH_INTERVAL_MS);
    try {
      const gaveUp = (): boolean => exited !== undefined;
      await this.options.probe(hostOf(container), hostPort, settings.readiness, settings.startupTimeoutMs, gaveUp);
    } catch (error) {
      if (exited)
        throw new AppExitedError({ exitCode: exited.exitCode, lastLines: await this.lastLines(container.id) });
      throw error;
    } finally {
      // Not awaited: a ready app must not wait for the watch's next look.
      watching = false;
      timers.clearTimeout(timer);
    }
  }

  async stop(container: ManagedContainer): Promise<void> {
    this.readySince.delete(container.id);
    await this.options.runtime.stop(container.id, this.options.stopTimeoutSeconds);
    this.record(container.owner.name, 'Normal', 'ContainerStopped', `container ${container.name} stopped`);
  }

  async pause(container: ManagedContainer, why: string): Promise<void> {
    await this.options.runtime.pause(container.id);
    this.record(container.owner.name, 'Normal', 'ContainerPaused', `container ${container.name} paused (${why})`);
  }

  async remove(container: ManagedContainer): Promise<void> {
    this.readySince.delete(container.id);
    await this.options.runtime.remove(container.id);
  }

  /** The app's last lines, for a crash report; none when the engine cannot say. */
  async lastLines(id: string): Promise<string[]> {
    try {
      const stream = await this.options.runtime.logs(id, { follow: false, tail: CRASH_LOG_LINES });
      const lines: string[] = [];
      for await (const entry of stream ?? []) lines.push(entry.line);
      return lines.slice(-CRASH_LOG_LINES);
    } catch {
      return [];
    }
  }

  /** Runs one phase of a cold start and observes how long it took, whether or not it succeeded. */
  async timed<T>(
    project: string,
    tier: ColdStartTier,
    phase: 'image_ready' | 'create' | 'start' | 'readiness',
    work: () => Promise<T>,
  ): Promise<T> {
    const started = this.options.now();
    try {
      return await work();
    } finally {
      this.options.metrics.coldStartPhase(project, tier, phase, (this.options.now() - started) / 1000);
    }
  }

  /** An instance passed readiness (or was thawed): the cold start is over. */
  coldStartDone(project: string, container: string, tier: ColdStartTier, startedAt: number): void {
    const seconds = (this.options.now() - startedAt) / 1000;
    this.options.metrics.coldStart(project, tier, seconds);
    const message = `container ${container} ready after a ${tier} start in ${Math.round(seconds * 1000)} ms`;
    this.record(project, 'Normal', 'ContainerReady', message);
  }

  record(project: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.options.events.record({ kind: 'Project', name: project }, type, reason, message);
  }

  private logReady(name: string, container: string, tier: ColdStartTier, startedAt: number, message: string): void {
    const ms = this.options.now() - startedAt;
    this.options.logger.info({ project: name, container, tier, ms, requestId: this.takeWake(name) }, message);
  }
}
