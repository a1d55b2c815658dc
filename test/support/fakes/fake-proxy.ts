import type { ActivitySnapshot, DeployRequest, ProxyManagement, ServiceInfo } from '../../../src/proxy/management.js';

// A ProxyManagement that records deploys and removes and answers getService with the
// activity a test sets, standing in for the proxy's view of traffic.

export class FakeProxy implements ProxyManagement {
  readonly deploys: DeployRequest[] = [];
  readonly removes: string[] = [];
  /** Activity reported per service; a service with activity is known even before a deploy. */
  readonly activity = new Map<string, ActivitySnapshot>();
  private readonly services = new Map<string, DeployRequest>();

  constructor(readonly log: string[] = []) {}

  setActivity(service: string, activity: ActivitySnapshot | undefined): void {
    if (activity) this.activity.set(service, { ...activity });
    else this.activity.delete(service);
  }

  lastDeploy(service: string): DeployRequest | undefined {
    return this.deploys.filter((deploy) => deploy.service === service).at(-1);
  }

  resetCalls(): void {
    this.deploys.length = 0;
    this.removes.length = 0;
  }

  async deploy(request: DeployRequest): Promise<void> {
    this.deploys.push(structuredClone(request));
    this.services.set(request.service, structuredClone(request));
    this.log.push(`deploy ${request.service} [${request.targets.join(',')}]`);
  }

  async remove(service: string): Promise<void> {
    this.removes.push(service);
    this.services.delete(service);
    this.log.push(`remove-service ${service}`);
  }

  async getService(service: string): Promise<ServiceInfo | undefined> {
    const deployed = this.services.get(service);
    const activity = this.activity.get(service);
    if (!deployed && !activity) return undefined;
    return {
      service,
      hosts: [...(deployed?.hosts ?? [])],
      targets: (deployed?.targets ?? []).map((address) => ({ address, inFlight: 0 })),
      startupTimeoutMs: deployed?.startupTimeoutMs ?? 30_000,
      ...(deployed?.unavailableReason ? { unavailableReason: deployed.unavailableReason } : {}),
      activity: activity ? { ...activity } : { inFlight: 0, waiting: 0 },
    };
  }

  async listServices(): Promise<ServiceInfo[]> {
    const names = new Set([...this.services.keys(), ...this.activity.keys()]);
    const infos = await Promise.all([...names].map((name) => this.getService(name)));
    return infos.filter((info): info is ServiceInfo => info !== undefined);
  }
}
