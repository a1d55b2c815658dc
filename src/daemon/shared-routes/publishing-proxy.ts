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
import type { ActivityExchange } from './activity-exchange.js';
import { mergeActivity } from './activity-merge.js';
import { deleteRoute, putRoute } from './route-rows.js';

// The leading controller's proxy, as the controller sees it: every route change is made on
// this process's own proxy first, then written to luma_routes for the other controllers'
// proxies to follow (route-follower.ts). A write the database refuses (the fence: this
// process no longer leads; or the database is away) fails the call, so the controller
// requeues and publishes again, as it would retry any failed step. What the controller reads
// back (a service's activity, a revision's outcomes) is every controller's proxy's, merged
// (activity-exchange.ts), so that traffic through another node's proxy keeps a project up,
// scales it out and counts in its rollout.

export class PublishingProxy implements ProxyManagement {
  constructor(
    private readonly local: ProxyManagement,
    private readonly pool: pg.Pool,
    private readonly fence: () => WriteFence,
    private readonly others: Pick<ActivityExchange, 'othersActivity' | 'outcomes'>,
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

  async getService(service: string): Promise<ServiceInfo | undefined> {
    const info = await this.local.getService(service);
    return info && this.withOthers(info);
  }

  async listServices(): Promise<ServiceInfo[]> {
    return (await this.local.listServices()).map((info) => this.withOthers(info));
  }

  setGlobalOption(option: GlobalOption, value: string): Promise<void> {
    return this.local.setGlobalOption(option, value);
  }

  preconnect(target: string): Promise<void> {
    return this.local.preconnect(target);
  }

  /** Every controller's proxy's counts, summed: a rollout is judged on all the answers its revision gave. */
  async revisionOutcomes(): Promise<Record<string, OutcomeCounts>> {
    return this.others.outcomes(await this.local.revisionOutcomes());
  }

  private withOthers(info: ServiceInfo): ServiceInfo {
    return { ...info, activity: mergeActivity(info.activity, this.others.othersActivity(info.service)) };
  }
}
