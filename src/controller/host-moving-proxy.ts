import type {
  DeployRequest,
  GlobalOption,
  HostMove,
  OutcomeCounts,
  ProxyManagement,
  ServiceInfo,
} from '../proxy/management.js';
import { planHostMoves, type DeclaredHosts } from './host-moves.js';

// The proxy as the controller's reconcilers see it. A deploy refused because another
// service holds one of its hosts is retried once, together with the moves that free the
// host, when that service's desired state has let go of it (see host-moves.ts). Names
// moving between projects or leases then converge in one step, whichever reconcile runs
// first; a host still declared by its holder stays refused, with the proxy's own error.

function isHostConflict(error: unknown): boolean {
  // In-process: HostConflictError; over the socket: the same code in a ProxyRequestError.
  return (error as { code?: unknown } | undefined)?.code === 'HostConflict';
}

export class HostMovingProxy implements ProxyManagement {
  constructor(
    private readonly proxy: ProxyManagement,
    private readonly declared: DeclaredHosts,
    /** Told of each service whose hosts a deploy moved, so its own reconcile looks again. */
    private readonly onMoved: (service: string) => void = () => undefined,
  ) {}

  async deploy(request: DeployRequest): Promise<void> {
    try {
      await this.proxy.deploy(request);
    } catch (error) {
      if (!isHostConflict(error)) throw error;
      const moves = planHostMoves(request, await this.proxy.listServices(), this.declared);
      if (moves.length === 0) throw error;
      await this.proxy.deployMovingHosts(request, moves);
      for (const move of moves) this.onMoved(move.service);
    }
  }

  deployMovingHosts(request: DeployRequest, moves: readonly HostMove[]): Promise<void> {
    return this.proxy.deployMovingHosts(request, moves);
  }

  remove(service: string): Promise<void> {
    return this.proxy.remove(service);
  }

  getService(service: string): Promise<ServiceInfo | undefined> {
    return this.proxy.getService(service);
  }

  listServices(): Promise<ServiceInfo[]> {
    return this.proxy.listServices();
  }

  revisionOutcomes(): Promise<Record<string, OutcomeCounts>> {
    return this.proxy.revisionOutcomes();
  }

  setGlobalOption(option: GlobalOption, value: string): Promise<void> {
    return this.proxy.setGlobalOption(option, value);
  }

  preconnect(target: string): Promise<void> {
    return this.proxy.preconnect(target);
  }
}
