import type { ProjectSettings, ProjectSettingsResolver } from '../model/project-settings.js';
import type { ProxyManagement } from '../proxy/management.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import type { ControllerMetrics } from '../metrics/controller-metrics.js';
import { errorMessage } from '../util/error-message.js';
import type { InstanceLifecycle } from './instance-lifecycle.js';
import { withLeft } from './instances-left.js';
import type { ProjectLocks } from './project-lock.js';
import { addressOf, resolveRunnable, routeFor } from './project-route.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { patchProjectStatus } from './project-status.js';

// The wake fast path: a request is held for a project whose last reconcile left it with
// no target and paused instances. Thaws the most recently ready of them (one engine call)
// and routes to it at once, without listing containers or probing; the caller queues the
// reconcile that confirms it. Declines, and leaves everything to that reconcile, whenever
// the view it would act on may be stale: the project is locked (a reconcile or eviction
// runs), its spec or image changed, or the container was stopped or removed meanwhile.
// Never rejects: a held request must not see an error from a shortcut.
//
// Caches only: `wakeable`, what the last reconcile left frozen. Lost on restart, the fast
// path declines and the reconcile does the job.

export interface PausedResumeOptions {
  store: ObjectStore;
  runtime: ContainerRuntime;
  proxy: ProxyManagement;
  logger: Logger;
  metrics: ControllerMetrics;
  lifecycle: InstanceLifecycle;
  locks: ProjectLocks;
  now: () => number;
  projectSettings: ProjectSettingsResolver;
  secrets?: SecretBox;
}

interface Candidate {
  settings: ProjectSettings;
  container: ManagedContainer;
}

export class PausedResume {
  /** Per project, the paused instances the last reconcile left while it routed no target. */
  private readonly wakeable = new Map<string, ManagedContainer[]>();

  constructor(private readonly options: PausedResumeOptions) {}

  /** What a held request may thaw, as the reconcile that just acted left it. */
  offer(name: string, paused: readonly ManagedContainer[]): void {
    if (paused.length > 0)
      this.wakeable.set(
        name,
        paused.map((container) => ({ ...container, state: 'paused' })),
      );
  }

  /** From now until a reconcile acts again, nothing is thawed on the side. */
  withdraw(name: string): void {
    this.wakeable.delete(name);
  }

  async resume(name: string): Promise<boolean> {
    const resumed = await this.options.locks.withTryLock(name, 'resume', async () => {
      const candidate = this.candidate(name);
      // Consumed: after this attempt, only a reconcile knows what is paused.
      this.wakeable.delete(name);
      return candidate ? this.thaw(name, candidate) : false;
    });
    return resumed ?? false;
  }

  private candidate(name: string): Candidate | undefined {
    const paused = this.wakeable.get(name);
    try {
      const project = this.options.store.get('Project', name);
      if (!paused || !project || project.metadata.deletionTimestamp) return undefined;
      const runnable = resolveRunnable(this.options.store, project, this.options.projectSettings, this.options.secrets);
      if (!('hash' in runnable)) return undefined;
      const { lifecycle } = this.options;
      const usable = paused.filter(
        (container) =>
          container.owner.uid === project.metadata.uid &&
          container.specHash === runnable.hash &&
          container.hostPort !== undefined &&
          lifecycle.readyAt(container) !== undefined,
      );
      const container = lifecycle.byReadiness(usable)[0];
      return container ? { settings: runnable.settings, container } : undefined;
    } catch (error) {
      this.options.logger.warn({ project: name, err: errorMessage(error) }, 'fast resume skipped');
      return undefined;
    }
  }

  private async thaw(name: string, { settings, container }: Candidate): Promise<boolean> {
    const { runtime, proxy, logger, lifecycle } = this.options;
    const startedAt = this.options.now();
    try {
      // Connecting to its port overlaps the unpause (the port accepts while the app is
      // frozen); only the deploy below routes to it, once the unpause said it is ours.
      void proxy.preconnect(addressOf(container)).catch(() => undefined);
      // resume() answers false for a container stopped or removed since the last reconcile:
      // its port may belong to someone else by now, so it must not be routed to.
      if (!(await runtime.resume(container.id))) {
        lifecycle.forgetReady(container);
        logger.info(
          { project: name, container: container.name },
          'paused instance was stopped or removed meanwhile; the reconcile takes over',
        );
        return false;
      }
      this.options.metrics.coldStartPhase(name, 'paused', 'start', (this.options.now() - startedAt) / 1000);
      lifecycle.record(name, 'Normal', 'ContainerStarted', `container ${container.name} resumed`);
      // It passed readiness before it was frozen and its processes never stopped: no probe.
      await proxy.deploy(routeFor(name, settings, [container]));
    } catch (error) {
      logger.warn(
        { project: name, container: container.name, err: errorMessage(error) },
        'fast resume failed; the reconcile takes over',
      );
      return false;
    }
    this.done(name, container, startedAt);
    await this.remember(name, container);
    return true;
  }

  private done(name: string, container: ManagedContainer, startedAt: number): void {
    const { lifecycle, logger } = this.options;
    lifecycle.coldStartDone(name, container.name, 'paused', startedAt);
    this.options.metrics.scaled(name, 'up', 1);
    const ms = this.options.now() - startedAt;
    const requestId = lifecycle.takeWake(name);
    logger.info(
      { project: name, container: container.name, tier: 'paused', fastPath: true, ms, requestId },
      'instance resumed',
    );
  }

  /** After the route is out (a held request is not kept waiting for it): left running, so no drift is told. */
  private async remember(name: string, container: ManagedContainer): Promise<void> {
    const now = this.options.now();
    await patchProjectStatus(this.options.store, name, (current) => ({
      instancesLeft: withLeft(current.instancesLeft, container, 'running', now),
    })).catch((error: unknown) =>
      this.options.logger.warn({ project: name, err: errorMessage(error) }, 'could not note the resumed instance'),
    );
  }
}
