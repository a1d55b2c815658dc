import {
  UnknownServiceError,
  type ActivitySnapshot,
  type CertificateStatus,
  type DeployRequest,
  type GlobalOption,
  type HostMove,
  type OutcomeCounts,
  type ProxyManagement,
  type ServiceInfo,
} from '../../../src/proxy/management.js';
import { RouteTable } from '../../../src/proxy/route-table.js';

// A ProxyManagement that records deploys and removes and answers getService with the
// activity a test sets, standing in for the proxy's view of traffic. Hosts are judged by
// the real route table, so a deploy of a host another service holds is refused as the
// proxy refuses it.

/** The proxy calls a test can make fail (see failOn). */
export type ProxyOp = 'deploy' | 'remove' | 'getService' | 'listServices';

export class FakeProxy implements ProxyManagement {
  private readonly failures = new Map<ProxyOp, { error: Error; left: number }>();

  /** Makes calls of `op` fail with `error`: the next `times` of them, or every one. */
  failOn(op: ProxyOp, error: Error = new Error(`${op} failed`), times = Number.POSITIVE_INFINITY): void {
    this.failures.set(op, { error, left: times });
  }

  private failIfAsked(op: ProxyOp): void {
    const failure = this.failures.get(op);
    if (!failure) return;
    if (--failure.left <= 0) this.failures.delete(op);
    throw failure.error;
  }

  readonly deploys: DeployRequest[] = [];
  readonly removes: string[] = [];
  readonly globals = new Map<GlobalOption, string>();
  /** Activity reported per service. */
  readonly activity = new Map<string, ActivitySnapshot>();
  /** Certificate states reported per service (as a proxy with an HTTPS listener does for `tls` services). */
  readonly certificates = new Map<string, CertificateStatus[]>();
  /** What revisionOutcomes() reports: a test sets the counts a rollout judges. */
  readonly outcomes = new Map<string, OutcomeCounts>();
  /** Deploys that moved other services' hosts in the same step, in order. */
  readonly hostMoves: { request: DeployRequest; moves: HostMove[] }[] = [];
  private readonly services = new Map<string, DeployRequest>();
  /** Only hosts matter here: targets are left out, so a test's made-up addresses need not parse. */
  private readonly hosts = new RouteTable();

  constructor(readonly log: string[] = []) {}

  /** Activity implies a route: a service the proxy does not have is given an empty one. */
  setActivity(service: string, activity: ActivitySnapshot | undefined): void {
    if (activity) {
      this.activity.set(service, { ...activity });
      if (!this.services.has(service)) this.seed({ service, hosts: [], targets: [] });
    } else this.activity.delete(service);
  }

  lastDeploy(service: string): DeployRequest | undefined {
    return this.deploys.filter((deploy) => deploy.service === service).at(-1);
  }

  resetCalls(): void {
    this.deploys.length = 0;
    this.removes.length = 0;
  }

  async deploy(request: DeployRequest): Promise<void> {
    this.failIfAsked('deploy');
    this.hosts.apply({ ...request, targets: [] });
    this.deploys.push(structuredClone(request));
    this.services.set(request.service, structuredClone(request));
    this.log.push(`deploy ${request.service} [${request.targets.join(',')}]`);
  }

  /** A deploy like any other to failOn('deploy'): a failing proxy refuses both kinds alike. */
  async deployMovingHosts(request: DeployRequest, moves: readonly HostMove[]): Promise<void> {
    this.failIfAsked('deploy');
    this.hosts.apply({ ...request, targets: [] }, moves);
    this.deploys.push(structuredClone(request));
    this.hostMoves.push({ request: structuredClone(request), moves: structuredClone([...moves]) });
    this.services.set(request.service, structuredClone(request));
    for (const move of moves)
      this.services.set(move.service, {
        ...(this.services.get(move.service) as DeployRequest),
        hosts: [...move.hosts],
      });
    this.log.push(
      `deploy ${request.service} [${request.targets.join(',')}] moving ${moves.map((move) => `${move.service}→[${move.hosts.join(',')}]`).join(' ')}`,
    );
  }

  /** Puts a route in place without recording a call: the state a test starts from. */
  seed(request: DeployRequest): void {
    this.hosts.apply({ ...request, targets: [] });
    this.services.set(request.service, structuredClone(request));
  }

  async remove(service: string): Promise<void> {
    this.failIfAsked('remove');
    this.removes.push(service);
    this.log.push(`remove-service ${service}`);
    // Like the real proxy: removing a service it does not have is an error.
    if (!this.services.has(service)) throw new UnknownServiceError(service);
    this.services.delete(service);
    this.hosts.remove(service);
    this.activity.delete(service);
  }

  async getService(service: string): Promise<ServiceInfo | undefined> {
    this.failIfAsked('getService');
    const deployed = this.services.get(service);
    const activity = this.activity.get(service);
    if (!deployed) return undefined;
    return {
      service,
      hosts: [...deployed.hosts],
      targets: deployed.targets.map((address) => ({ address, inFlight: 0 })),
      startupTimeoutMs: deployed.startupTimeoutMs ?? 30_000,
      responseTimeoutMs: deployed.responseTimeoutMs ?? 30_000,
      ...(deployed.targetConcurrency !== undefined ? { targetConcurrency: deployed.targetConcurrency } : {}),
      forwardHeaders: deployed.forwardHeaders ?? false,
      tls: deployed.tls ?? false,
      sslRedirect: deployed.sslRedirect ?? false,
      ...(deployed.unavailableReason ? { unavailableReason: deployed.unavailableReason } : {}),
      activity: activity ? { ...activity } : { inFlight: 0, waiting: 0 },
      ...(deployed.tls && this.certificates.has(service)
        ? { certificates: structuredClone(this.certificates.get(service)) }
        : {}),
    };
  }

  async setGlobalOption(option: GlobalOption, value: string): Promise<void> {
    this.globals.set(option, value);
  }

  /** Targets asked to be connected ahead of a deploy, in order. */
  readonly preconnects: string[] = [];

  async preconnect(target: string): Promise<void> {
    this.preconnects.push(target);
  }

  async revisionOutcomes(): Promise<Record<string, OutcomeCounts>> {
    return Object.fromEntries(this.outcomes);
  }

  async listServices(): Promise<ServiceInfo[]> {
    this.failIfAsked('listServices');
    const infos = await Promise.all([...this.services.keys()].map((name) => this.getService(name)));
    return infos.filter((info): info is ServiceInfo => info !== undefined);
  }
}
