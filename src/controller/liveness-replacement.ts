import type { EventRecorder } from '../events/event-log.js';
import type { ControllerMetrics } from '../metrics/controller-metrics.js';
import type { ProjectSettings } from '../model/project-settings.js';
import type { ProxyManagement, ServiceInfo } from '../proxy/management.js';
import type { ManagedContainer } from '../runtime/runtime.js';
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';
import type { InstanceLifecycle } from './instance-lifecycle.js';
import type { LivenessFailure, LivenessMonitor } from './liveness-monitor.js';
import { addressOf, routeFor } from './project-route.js';

// What the project reconciler does about instances that failed their liveness check
// (liveness-monitor.ts): they do not count as serving, so the reconcile starts their
// replacements; before that, at the start of the reconcile, they leave the route, so no
// new request reaches them while the replacement starts; once the reconcile has routed
// what serves, they are stopped (after their in-flight requests drained) and removed.
// Pool and lease containers are not checked (docs/manifests.md#liveness says why).

/** Event reason when an instance fails its liveness check (the kubelet's word). */
export const LIVENESS_FAILED = 'Unhealthy';

export interface LivenessReplacementOptions {
  /** Absent: nothing is checked (unit tests of other behaviour, or a controller without it). */
  monitor: LivenessMonitor | undefined;
  proxy: ProxyManagement;
  lifecycle: InstanceLifecycle;
  logger: Logger;
}

export class LivenessReplacement {
  constructor(private readonly options: LivenessReplacementOptions) {}

  /** Running instances split into those that failed their liveness check and the others. */
  split(running: readonly ManagedContainer[]): { alive: ManagedContainer[]; failed: ManagedContainer[] } {
    const { monitor } = this.options;
    const failed = running.filter((container) => monitor?.failureOf(container.id) !== undefined);
    return { alive: running.filter((container) => !failed.includes(container)), failed };
  }

  /**
   * Takes failed instances out of the project's route now, keeping every other routed
   * container, and answers when their in-flight requests have drained (never rejects).
   * Called under the project's lock, before any start, so no reconcile's route adds them
   * back and no new request waits for a replacement on a broken instance.
   */
  takeOut(
    name: string,
    settings: ProjectSettings,
    failed: readonly ManagedContainer[],
    others: readonly ManagedContainer[],
    service: ServiceInfo | undefined,
  ): Promise<void> {
    const routed = new Set(service?.targets.map((target) => target.address));
    if (!failed.some((container) => routed.has(addressOf(container)))) return Promise.resolve();
    const keep = others.filter((container) => container.hostPort && routed.has(addressOf(container)));
    return this.options.proxy.deploy(routeFor(name, settings, keep)).catch((error: unknown) => {
      // The reconcile's own route, a moment later, leaves them out as well.
      this.options.logger.warn({ project: name, err: errorMessage(error) }, 'could not take failed instances out');
    });
  }

  /** Stops and removes failed instances once `drained` (their requests in flight) has settled. */
  async retire(failed: readonly ManagedContainer[], drained: Promise<void>): Promise<void> {
    if (failed.length === 0) return;
    await drained;
    const { lifecycle, monitor } = this.options;
    await Promise.all(
      failed.map(async (container) => {
        await lifecycle.stop(container);
        await lifecycle.remove(container);
        monitor?.forget(container.id);
      }),
    );
  }

  /** The instances that serve after this reconcile are the ones checked from now on. */
  watch(name: string, settings: ProjectSettings, targets: readonly ManagedContainer[]): void {
    const { monitor, lifecycle } = this.options;
    monitor?.watch(
      name,
      settings.liveness,
      targets.map((container) => ({ container, readyAt: lifecycle.readyAt(container) })),
    );
  }

  forgetProject(name: string): void {
    this.options.monitor?.forgetProject(name);
  }
}

/**
 * What the controller does the moment an instance fails: says so (event and metric, with
 * the last check's error) and asks for the project's reconcile, which replaces it.
 */
export function onLivenessFailure(
  events: EventRecorder,
  metrics: ControllerMetrics,
  logger: Logger,
  reconcile: (project: string) => void,
): (failure: LivenessFailure) => void {
  return (failure) => {
    const { project, container, failures, lastError } = failure;
    const message = `container ${container} failed its liveness check ${failures} times in a row (last: ${lastError}); taking it out of rotation and replacing it`;
    events.record({ kind: 'Project', name: project }, 'Warning', LIVENESS_FAILED, message);
    metrics.livenessFailed(project);
    logger.warn({ project, container, failures, lastError }, 'instance failed its liveness check; replacing it');
    reconcile(project);
  };
}
