import { hostOf } from './project-route.js';
import {
  BUILT_IN_PROJECT_SETTINGS,
  resolveProjectSettings,
  type ProjectSettings,
  type ProjectSettingsResolver,
} from '../model/project-settings.js';
import type { ProjectObject } from '../model/types.js';
import { errorMessage } from '../util/error-message.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import { waitUntilReady } from '../util/readiness-probe.js';
import type { ReadinessProber } from './instance-lifecycle.js';
import { resolveProjectImage } from './image-resolution.js';
import type { KeyedLock } from '../util/keyed-lock.js';
import type { LeasePolicy } from './lease-policy.js';
import type { EventRecorder } from '../events/event-log.js';
import { imageNotAllowed } from './image-policy.js';
import { containerSpecHash } from './project-reconciler.js';
import { processOf } from './project-route.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { openedSecrets, scrubbedError, scrubbingSecrets } from '../secrets/scrub.js';
import { withSecretEnv } from '../secrets/secret-env.js';
import { describeDrift } from './drift.js';
import { startAdmitted, type MemoryBudget } from './memory-budget.js';
import type { ReconcileResult } from './work-queue.js';
import { IMAGE_RECHECK_MS } from './requeue.js';
import { NO_CONTROLLER_METRICS, type ControllerMetrics } from '../metrics/controller-metrics.js';
import type { ObservedContainers } from './container-sightings.js';

// Keeps `spec.pool.size` containers of a project started, ready and unclaimed, so that a
// lease gets one at once. A claimed container leaves the pool for good (it is renamed for
// its lease); refills come in batches, spaced as the operator set.

export interface PoolReconcilerOptions {
  store: ObjectStore;
  runtime: ContainerRuntime;
  logger: Logger;
  policy: LeasePolicy;
  /** Shared with the lease reconciler: a claim and a refill of one pool never interleave. */
  poolLock: KeyedLock;
  events: EventRecorder;
  metrics?: ControllerMetrics;
  /** Specs resolved with the operator's defaults; Luma's own when absent. */
  projectSettings?: ProjectSettingsResolver;
  now?: () => number;
  /** Admission by memory; every refill is admitted when absent. */
  memory?: MemoryBudget;
  /** The readiness probe (HTTP or TCP on loopback); unit tests inject one. */
  probe?: ReadinessProber;
  /** Opens the values of variables taken from Secrets. */
  secrets?: SecretBox;
}

/** What a pool container runs: the project's container, with the limits a lease gets by default. */
export interface PoolTemplate {
  settings: ProjectSettings;
  cpuMillis: number;
  memoryBytes: number;
  hash: string;
}

/** Where the values of variables taken from Secrets come from. */
export interface SecretEnvSource {
  store: Pick<ObjectStore, 'get'>;
  box: SecretBox | undefined;
}

/** For a project that reads no Secret. */
const NO_SECRETS: SecretEnvSource = { store: { get: () => undefined }, box: undefined };

/** The template, or which Secret it waits for (nothing is made from it meanwhile). */
export function poolTemplate(
  project: ProjectObject,
  imageRef: string,
  policy: LeasePolicy,
  projectSettings: ProjectSettingsResolver = BUILT_IN_PROJECT_SETTINGS,
  secrets: SecretEnvSource = NO_SECRETS,
): PoolTemplate | { missingSecret: string } {
  const declared = projectSettings.forPool(project.spec);
  const cpuMillis = declared.cpuMillis ?? policy.leaseDefaults.cpuMillis;
  const memoryBytes = declared.memoryBytes ?? policy.leaseDefaults.memoryBytes;
  const settings = withSecretEnv({ ...declared, image: imageRef, cpuMillis, memoryBytes }, secrets.store, secrets.box);
  if ('missing' in settings) return { missingSecret: settings.missing };
  return { settings, cpuMillis, memoryBytes, hash: containerSpecHash(settings) };
}

export class PoolReconciler {
  /** Pool containers whose readiness probe passed, as they were then. */
  private readonly ready = new Map<string, ManagedContainer>();
  /** When the last refill batch of each project started. */
  private readonly lastBatchAt = new Map<string, number>();
  private readonly now: () => number;
  private readonly probe: ReadinessProber;

  constructor(private readonly options: PoolReconcilerOptions) {
    this.now = options.now ?? Date.now;
    this.probe = options.probe ?? waitUntilReady;
  }

  /** Whether a pool container passed its readiness probe (claims take only those). */
  isReady(containerId: string): boolean {
    return this.ready.has(containerId);
  }

  /**
   * The project's ready pool containers made from this template, the longest-ready first,
   * from memory: a claim must not wait for a listing of every container.
   */
  readyFor(projectUid: string, hash: string): ManagedContainer[] {
    return [...this.ready.values()].filter(
      (container) => container.owner.uid === projectUid && container.specHash === hash,
    );
  }

  /** Whether this reconciler knows ready pool containers of the project. */
  hasContainersOf(project: string): boolean {
    for (const container of this.ready.values()) if (container.owner.name === project) return true;
    return false;
  }

  /** A claimed container is no longer the pool's. */
  forget(containerId: string): void {
    this.ready.delete(containerId);
  }

  /** `observed`: the containers a resync saw, read instead of asking the engine while still current. */
  reconcile(projectName: string, observed?: ObservedContainers): Promise<ReconcileResult> {
    return this.options.poolLock.run(projectName, () => this.converge(projectName, observed));
  }

  /** The phases: the template (image resolved and allowed), the usable containers kept, the deficit refilled. */
  private async converge(projectName: string, observed: ObservedContainers | undefined): Promise<ReconcileResult> {
    const project = this.options.store.get('Project', projectName);
    const filter = { kind: 'Project', name: projectName, role: 'pool' } as const;
    const pool = observed?.list(filter) ?? (await this.options.runtime.list(filter));
    if (!project || project.metadata.deletionTimestamp) {
      await Promise.all(pool.map((container) => this.remove(container)));
      return;
    }
    this.reportDrift(projectName, pool);
    const size = resolveProjectSettings(project.spec).poolSize;
    const template = await this.templateFor(project, pool, size);
    if (!('hash' in template)) return template.result;
    const kept = await this.keepUsable(project, template, pool, size);
    if (kept >= size) {
      await this.writeStatus(project, size, kept, 0);
      return;
    }
    return this.refill(project, template, size, kept);
  }

  /**
   * What pool containers run now; none (with what to return) while the image is not built
   * yet, or when the allowlist refuses it: then nothing made from it waits for a lease.
   */
  private async templateFor(
    project: ProjectObject,
    pool: ManagedContainer[],
    size: number,
  ): Promise<PoolTemplate | { result: ReconcileResult }> {
    const { store, policy } = this.options;
    const image = resolveProjectImage(store, project.spec.image);
    if ('waitingFor' in image) {
      if (size > 0) await this.writeStatus(project, size, 0, 0);
      return { result: size > 0 ? { requeueAfterMs: IMAGE_RECHECK_MS } : undefined };
    }
    if (imageNotAllowed(image.ref, project.spec.image, policy.imageAllowlist) !== undefined) {
      // The project's status says why.
      await Promise.all(pool.map((container) => this.remove(container)));
      if (size > 0) await this.writeStatus(project, size, 0, 0);
      return { result: undefined };
    }
    const template = poolTemplate(project, image.ref, policy, this.options.projectSettings, {
      store,
      box: this.options.secrets,
    });
    if ('missingSecret' in template) {
      // The project's status says which; the Secret's arrival wakes the project and its pool.
      await Promise.all(pool.map((container) => this.remove(container)));
      if (size > 0) await this.writeStatus(project, size, 0, 0);
      return { result: undefined };
    }
    return template;
  }

  /** Removes what a lease cannot use and what is beyond the size; returns how many ready containers stay. */
  private async keepUsable(
    project: ProjectObject,
    template: PoolTemplate,
    pool: ManagedContainer[],
    size: number,
  ): Promise<number> {
    // An old spec, an earlier project of the same name, or a container that stopped: useless to a lease.
    const usable = (container: ManagedContainer): boolean =>
      container.owner.uid === project.metadata.uid &&
      container.specHash === template.hash &&
      (container.state === 'running' || container.state === 'created');
    await Promise.all(pool.filter((container) => !usable(container)).map((container) => this.remove(container)));
    const candidates = pool.filter(usable).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const ready: ManagedContainer[] = [];
    for (const container of candidates) {
      if (await this.ensureReady(container, template)) ready.push(container);
    }
    // Size lowered: the newest go first, the longest-ready stay.
    const surplus = ready.slice(size);
    await Promise.all(surplus.map((container) => this.remove(container)));
    return ready.length - surplus.length;
  }

  /** Starts one batch toward the size, no sooner than the batch spacing after the last one. */
  private async refill(
    project: ProjectObject,
    template: PoolTemplate,
    size: number,
    kept: number,
  ): Promise<ReconcileResult> {
    const { policy } = this.options;
    const projectName = project.metadata.name;
    const sinceLastBatch = this.now() - (this.lastBatchAt.get(projectName) ?? -Infinity);
    if (sinceLastBatch < policy.poolBatchSpacingMs) {
      await this.writeStatus(project, size, kept, 0);
      return { requeueAfterMs: policy.poolBatchSpacingMs - sinceLastBatch };
    }
    const batch = Math.min(size - kept, policy.poolBatchSize);
    this.lastBatchAt.set(projectName, this.now());
    await this.writeStatus(project, size, kept, batch);
    const started = await Promise.allSettled(Array.from({ length: batch }, () => this.startOne(project, template)));
    const failures = started.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    const ready = kept + batch - failures.length;
    await this.writeStatus(project, size, ready, 0);
    this.reportRefill(projectName, { size, ready, started: batch - failures.length, failures });
    if (failures.length > 0) throw new Error(`pool of ${projectName}: ${errorMessage(failures[0]?.reason)}`);
    return ready < size ? { requeueAfterMs: policy.poolBatchSpacingMs } : undefined;
  }

  private reportRefill(
    projectName: string,
    refill: { size: number; ready: number; started: number; failures: PromiseRejectedResult[] },
  ): void {
    const { size, ready, started, failures } = refill;
    const ref = { kind: 'Project', name: projectName } as const;
    this.options.logger.info({ project: projectName, started, failed: failures.length, ready, size }, 'pool refilled');
    (this.options.metrics ?? NO_CONTROLLER_METRICS).poolRefilled(projectName, started);
    if (started > 0)
      this.options.events.record(
        ref,
        'Normal',
        'PoolRefilled',
        `started ${started} pool container(s); ${ready} of ${size} ready`,
      );
    if (failures.length > 0)
      this.options.events.record(ref, 'Warning', 'PoolStartFailed', errorMessage(failures[0]?.reason));
  }

  /** A refill refused for memory fails this round; the pool is filled again after its backoff. */
  private startOne(project: ProjectObject, template: PoolTemplate): Promise<void> {
    // The engine's error may quote a variable it refused: no secret value goes further.
    const opened = openedSecrets(template.settings.env, template.settings.secretEnv);
    return scrubbingSecrets(opened, () =>
      startAdmitted(this.options.memory, `Pool/${project.metadata.name}`, template.memoryBytes, (running) =>
        this.createReady(project, template, running),
      ),
    );
  }

  private async createReady(project: ProjectObject, template: PoolTemplate, onRunning: () => void): Promise<void> {
    const { runtime } = this.options;
    const { settings } = template;
    const created = await runtime.create({
      owner: { kind: 'Project', name: project.metadata.name, uid: project.metadata.uid ?? '' },
      role: 'pool',
      specHash: template.hash,
      image: settings.image,
      port: settings.port,
      env: settings.env,
      ...processOf(settings),
      capabilities: settings.capabilities,
      cpuMillis: template.cpuMillis,
      memoryBytes: template.memoryBytes,
    });
    try {
      const running = await runtime.start(created.id);
      onRunning();
      if (!running.hostPort) throw new Error(`pool container ${running.name} started without a published port`);
      await this.probe(hostOf(running), running.hostPort, settings.readiness, settings.startupTimeoutMs);
      this.ready.set(running.id, running);
    } catch (error) {
      await runtime.remove(created.id).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Ready pool containers found stopped, paused or gone were touched by hand (claims and
   * Luma's own removals forget them first): said as drift; the converge replaces them.
   */
  private reportDrift(projectName: string, pool: ManagedContainer[]): void {
    const found = new Map(pool.map((container) => [container.id, container]));
    for (const [id, container] of this.ready) {
      if (container.owner.name !== projectName) continue;
      const drift = describeDrift({ name: container.name, state: 'running' }, found.get(id));
      if (!drift) continue;
      this.options.logger.warn(
        { project: projectName, container: container.name, drift },
        'drift in the pool: replacing the container',
      );
      this.options.events.record(
        { kind: 'Project', name: projectName },
        'Warning',
        'DriftDetected',
        `pool ${drift}; a replacement is started`,
      );
      this.ready.delete(id);
    }
  }

  /** Adopted containers (after a restart) and ones still starting are probed once. */
  private async ensureReady(container: ManagedContainer, template: PoolTemplate): Promise<boolean> {
    if (this.ready.has(container.id)) return true;
    const { runtime, logger } = this.options;
    try {
      const running = container.state === 'running' ? container : await runtime.start(container.id);
      if (!running.hostPort) throw new Error('no published port');
      await this.probe(
        hostOf(running),
        running.hostPort,
        template.settings.readiness,
        template.settings.startupTimeoutMs,
      );
      this.ready.set(container.id, running);
      return true;
    } catch (error) {
      const opened = openedSecrets(template.settings.env, template.settings.secretEnv);
      const err = errorMessage(scrubbedError(error, opened));
      logger.warn({ container: container.name, err }, 'pool container is not ready; replacing it');
      await this.remove(container);
      return false;
    }
  }

  private async remove(container: ManagedContainer): Promise<void> {
    this.ready.delete(container.id);
    await this.options.runtime.remove(container.id);
  }

  private async writeStatus(project: ProjectObject, size: number, ready: number, starting: number): Promise<void> {
    try {
      await this.options.store.mutateStatus('Project', project.metadata.name, (current) => {
        if (size === 0 && ready === 0 && starting === 0) {
          if (!current.status?.pool) return undefined;
          const { pool: _gone, ...rest } = current.status;
          return rest;
        }
        return { ...current.status, pool: { size, ready, starting } };
      });
    } catch (error) {
      this.options.logger.error(
        { project: project.metadata.name, err: errorMessage(error) },
        'could not write pool status',
      );
    }
  }
}
