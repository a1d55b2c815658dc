import type { ProjectSettingsResolver } from '../model/project-settings.js';
import type { ProxyManagement, ServiceInfo } from '../proxy/management.js';
import type { ManagedContainer } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import type { IdleContainers } from './memory-budget.js';
import type { InstanceLifecycle } from './instance-lifecycle.js';
import { withLeft } from './instances-left.js';
import type { ProjectLocks } from './project-lock.js';
import type { PausedResume } from './paused-resume.js';
import { addressOf, routeFor } from './project-route.js';
import { patchProjectStatus } from './project-status.js';

// Eviction for memory: admission asks which project instances are idle, and has one
// stopped to make room for another start. The eviction is written to status
// (evictedAt) before it returns, so that a restarted controller does not start the
// project again until a request comes (it would take the memory straight back).
//
// No state of its own: the project's lock says whether it is being worked on.

export interface MemoryEvictionOptions {
  store: ObjectStore;
  proxy: ProxyManagement;
  lifecycle: InstanceLifecycle;
  locks: ProjectLocks;
  resumes: PausedResume;
  now: () => number;
  projectSettings: ProjectSettingsResolver;
}

type Usage = Map<string, { idle: boolean; lastUsedAt: number }>;

function quiet(service: ServiceInfo | undefined): service is ServiceInfo {
  return service !== undefined && service.activity.inFlight === 0 && service.activity.waiting === 0;
}

export class MemoryEviction implements IdleContainers {
  constructor(private readonly options: MemoryEvictionOptions) {}

  /**
   * Idle means: its project is not locked (reconciled, resumed or evicted right now), has
   * no request in flight or held, and the instance is paused or a running one above
   * minInstances (the least recently ready of them first). A project's last request is
   * its instances' last use.
   */
  async describe(containers: readonly ManagedContainer[], startingFor: string): Promise<Usage> {
    const found: Usage = new Map();
    const byProject = new Map<string, ManagedContainer[]>();
    for (const container of containers) {
      if (container.owner.kind !== 'Project' || container.role !== 'instance') continue;
      byProject.set(container.owner.name, [...(byProject.get(container.owner.name) ?? []), container]);
    }
    // One question to the proxy per project with instances, asked together.
    const names = [...byProject.keys()];
    const services = await Promise.all(names.map((name) => this.options.proxy.getService(name)));
    names.forEach((name, index) =>
      this.describeProject(name, byProject.get(name) ?? [], services[index], startingFor, found),
    );
    return found;
  }

  private describeProject(
    name: string,
    instances: readonly ManagedContainer[],
    service: ServiceInfo | undefined,
    startingFor: string,
    found: Usage,
  ): void {
    const { lifecycle } = this.options;
    const project = this.options.store.get('Project', name);
    const free =
      quiet(service) && project !== undefined && `Project/${name}` !== startingFor && !this.options.locks.holder(name);
    const minInstances = project ? this.options.projectSettings.forProject(project.spec).minInstances : 0;
    // Above minInstances, the least recently ready running instances may go.
    const running = instances
      .filter((container) => container.state !== 'paused')
      .sort((a, b) => (lifecycle.readyAt(a) ?? 0) - (lifecycle.readyAt(b) ?? 0));
    const spare = new Set(
      running.slice(0, Math.max(0, running.length - minInstances)).map((container) => container.id),
    );
    const lastUsed = service?.activity.lastActivityAt;
    for (const container of instances) {
      const idle = free && (container.state === 'paused' || spare.has(container.id));
      found.set(container.id, { idle, lastUsedAt: lastUsed ?? lifecycle.readyAt(container) ?? 0 });
    }
  }

  /** Stops an idle instance for another start: its route goes first, so no request meets a stopping container. */
  async evict(container: ManagedContainer, reason: string): Promise<boolean> {
    const name = container.owner.name;
    const evicted = await this.options.locks.withTryLock(name, 'evict', () =>
      this.stopForRoom(name, container, reason),
    );
    return evicted ?? false;
  }

  private async stopForRoom(name: string, container: ManagedContainer, reason: string): Promise<boolean> {
    const { proxy, store, lifecycle } = this.options;
    const project = store.get('Project', name);
    const service = await proxy.getService(name);
    if (!project || project.metadata.deletionTimestamp || !quiet(service)) return false;
    this.options.resumes.withdraw(name);
    const address = addressOf(container);
    if (service.targets.some((target) => target.address === address)) {
      // The route keeps the rest of the project's instances; with none left, the next request wakes it.
      const settings = this.options.projectSettings.forProject(project.spec);
      const remaining = service.targets.filter((target) => target.address !== address).map((target) => target.address);
      await proxy.deploy({ ...routeFor(name, settings, []), targets: remaining });
    }
    // A request may have arrived while the route changed: then it goes to the new route's targets or waits for a start.
    await lifecycle.stop(container);
    const now = this.options.now();
    await patchProjectStatus(store, name, (current) => ({
      evictedAt: new Date(now).toISOString(),
      instancesLeft: withLeft(current.instancesLeft, container, 'stopped', now),
    }));
    lifecycle.record(name, 'Normal', 'ContainerEvicted', `container ${container.name} stopped ${reason}`);
    return true;
  }
}
