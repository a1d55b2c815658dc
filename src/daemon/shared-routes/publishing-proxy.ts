import type pg from 'pg';
import type {
  DeployRequest,
  GlobalOption,
  HostMove,
  OutcomeCounts,
  ProxyManagement,
  ServiceInfo,
} from '../../proxy/management.js';
import type { WriteFence } from '../../store/postgres/postgres-store.js';
import { deleteRoute, putRoute } from './route-rows.js';

// The leading controller's proxy, as the controller sees it: every route change is made on
// this process's own proxy first, then written to luma_routes for the other controllers'
// proxies to follow (route-follower.ts). A write the database refuses (the fence: this
// process no longer leads; or the database is away) fails the call, so the controller
// requeues and publishes again, as it would retry any failed step.

export class PublishingProxy implements ProxyManagement {
  constructor(
    private readonly local: ProxyManagement,
    private readonly pool: pg.Pool,
    private readonly fence: () => WriteFence,
  ) {}

  async deploy(request: DeployRequest): Promise<void> {
    await this.local.deploy(request);
    await putRoute(this.pool, this.fence(), request);
  }

  async deployMovingHosts(request: DeployRequest, moves: readonly HostMove[]): Promise<void> {
    await this.local.deployMovingHosts(request, moves);
    await putRoute(this.pool, this.fence(), request, moves);
  }

  async remove(service: string): Promise<void> {
    await this.local.remove(service);
    await deleteRoute(this.pool, this.fence(), service);
  }

  getService(service: string): Promise<ServiceInfo | undefined> {
    return this.local.getService(service);
  }

  listServices(): Promise<ServiceInfo[]> {
    return this.local.listServices();
  }

  setGlobalOption(option: GlobalOption, value: string): Promise<void> {
    return this.local.setGlobalOption(option, value);
  }

  preconnect(target: string): Promise<void> {
    return this.local.preconnect(target);
  }

  /** This proxy's counts only: a rollout is judged on the leader's own proxy's answers (docs/cluster.md). */
  revisionOutcomes(): Promise<Record<string, OutcomeCounts>> {
    return this.local.revisionOutcomes();
  }
}
