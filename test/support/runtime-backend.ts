import type Docker from 'dockerode';
import { containersOf, docker, removeInstanceContainers } from './docker.js';
import { startTestSwarm, type TestSwarm } from './swarm.js';

// The engine an e2e suite runs `luma up` against, so that one suite runs on both drivers:
// the machine's Docker engine (plain containers), or a one-node swarm of its own with a
// registry (`--runtime swarm`). What the suite checks about instances is asked of the
// engine directly, never of Luma's driver.

export type BackendName = 'docker' | 'swarm';

export interface InstanceFound {
  id: string;
  running: boolean;
}

export interface RuntimeBackend {
  name: BackendName;
  /**
   * How soon after the moment a lease must end its app has stopped (the ledger bills up
   * to then). On Swarm a stop goes through the manager to the node's agent: about
   * 1.2–1.5 s on a 2-core machine, against about 0.1 s for `docker stop` with an init.
   */
  stopWithinMs: number;
  /** More `luma up` flags. */
  args: string[];
  /** More environment for `luma up` (DOCKER_HOST). */
  env: Record<string, string>;
  /** Luma's instances (containers, or services on Swarm) of a test run, optionally of one project. */
  instancesOf(instance: string, name?: string): Promise<InstanceFound[]>;
  /** Running pool instances of a project that no lease has claimed. */
  unclaimedPool(instance: string, project: string): Promise<string[]>;
  /** The instances a lease owns (created for it, or claimed from the pool). */
  leaseInstances(instance: string, lease: string): Promise<string[]>;
  /** The CPU (nano-CPUs) and memory (bytes) limits an instance was given. */
  limitsOf(id: string): Promise<{ nanoCpus: number; memory: number }>;
  /** Who owns each instance of a test run: a lease, else the project of its labels. */
  ownersOf(instance: string): Promise<Array<{ lease?: string; project?: string }>>;
  /** Removes what a test run left; then the engine itself when it is the test's own. */
  close(instance: string): Promise<void>;
}

/** A claimed or lease container carries its lease's name (its labels cannot change). */
const LEASE_IN_NAME = /\.lease\.([a-z0-9-]+)\./;

function dockerBackend(): RuntimeBackend {
  const leaseOf = (container: Docker.ContainerInfo): string | undefined =>
    LEASE_IN_NAME.exec(container.Names[0] ?? '')?.[1];
  return {
    name: 'docker',
    stopWithinMs: 1_000,
    args: [],
    env: {},
    instancesOf: async (instance, name) =>
      (await containersOf(instance, name)).map((container) => ({
        id: container.Id,
        running: container.State === 'running',
      })),
    unclaimedPool: async (instance, project) =>
      (await containersOf(instance, project))
        .filter((c) => !leaseOf(c) && c.Labels['luma.dev/role'] === 'pool' && c.State === 'running')
        .map((c) => c.Id),
    leaseInstances: async (instance, lease) =>
      (await docker.listContainers({ all: true, filters: { name: [`luma-${instance}.lease.${lease}.`] } })).map(
        (c) => c.Id,
      ),
    limitsOf: async (id) => {
      const info = await docker.getContainer(id).inspect();
      return { nanoCpus: info.HostConfig.NanoCpus ?? 0, memory: info.HostConfig.Memory ?? 0 };
    },
    ownersOf: async (instance) =>
      (await containersOf(instance)).map((c) => {
        const lease = leaseOf(c);
        return lease ? { lease } : { project: c.Labels['luma.dev/name'] };
      }),
    close: (instance) => removeInstanceContainers(instance),
  };
}

async function servicesOf(client: Docker, instance: string, name?: string): Promise<InstanceFound[]> {
  const labels = [`luma.dev/instance=${instance}`, ...(name ? [`luma.dev/name=${name}`] : [])];
  const services = await client.listServices({ filters: { label: labels } });
  if (services.length === 0) return [];
  const tasks = await client.listTasks({ filters: { service: services.map((service) => service.ID) } });
  return services.map((service) => ({
    id: service.ID,
    running:
      (service.Spec?.Mode?.Replicated?.Replicas ?? 0) > 0 &&
      tasks.some(
        (task: { ServiceID?: string; DesiredState?: string; Status?: { State?: string } }) =>
          task.ServiceID === service.ID && task.DesiredState === 'running' && task.Status?.State === 'running',
      ),
  }));
}

/** A claimed pool service carries its lease in labels (a service cannot be renamed). */
function leaseOfService(labels: Record<string, string>): string | undefined {
  return labels['luma.dev/lease-name'] ?? (labels['luma.dev/kind'] === 'Lease' ? labels['luma.dev/name'] : undefined);
}

function swarmBackend(swarm: TestSwarm): RuntimeBackend {
  const services = (instance: string) =>
    swarm.client.listServices({ filters: { label: [`luma.dev/instance=${instance}`] } });
  return {
    name: 'swarm',
    stopWithinMs: 2_500,
    args: ['--runtime', 'swarm', '--registry', swarm.registry],
    env: { DOCKER_HOST: swarm.host },
    instancesOf: (instance, name) => servicesOf(swarm.client, instance, name),
    unclaimedPool: async (instance, project) => {
      const running = new Set(
        (await servicesOf(swarm.client, instance, project)).filter((f) => f.running).map((f) => f.id),
      );
      return (await services(instance))
        .filter((service) => {
          const labels = service.Spec?.Labels ?? {};
          return running.has(service.ID) && labels['luma.dev/role'] === 'pool' && !leaseOfService(labels);
        })
        .map((service) => service.ID);
    },
    leaseInstances: async (instance, lease) =>
      (await services(instance))
        .filter((service) => leaseOfService(service.Spec?.Labels ?? {}) === lease)
        .map((service) => service.ID),
    limitsOf: async (id) => {
      const limits = (await swarm.client.getService(id).inspect()).Spec?.TaskTemplate?.Resources?.Limits ?? {};
      return { nanoCpus: limits.NanoCPUs ?? 0, memory: limits.MemoryBytes ?? 0 };
    },
    ownersOf: async (instance) =>
      (await services(instance)).map((service) => {
        const labels = service.Spec?.Labels ?? {};
        const lease = leaseOfService(labels);
        return lease ? { lease } : { project: labels['luma.dev/name'] };
      }),
    close: () => swarm.remove(),
  };
}

export async function startBackend(name: BackendName): Promise<RuntimeBackend> {
  return name === 'docker' ? dockerBackend() : swarmBackend(await startTestSwarm());
}
