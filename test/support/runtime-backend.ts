import type Docker from 'dockerode';
import { containersOf, removeInstanceContainers } from './docker.js';
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
  /** More `luma up` flags. */
  args: string[];
  /** More environment for `luma up` (DOCKER_HOST). */
  env: Record<string, string>;
  /** Luma's instances (containers, or services on Swarm) of a test run, optionally of one project. */
  instancesOf(instance: string, name?: string): Promise<InstanceFound[]>;
  /** Removes what a test run left; then the engine itself when it is the test's own. */
  close(instance: string): Promise<void>;
}

function dockerBackend(): RuntimeBackend {
  return {
    name: 'docker',
    args: [],
    env: {},
    instancesOf: async (instance, name) =>
      (await containersOf(instance, name)).map((container) => ({
        id: container.Id,
        running: container.State === 'running',
      })),
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

function swarmBackend(swarm: TestSwarm): RuntimeBackend {
  return {
    name: 'swarm',
    args: ['--runtime', 'swarm', '--registry', swarm.registry],
    env: { DOCKER_HOST: swarm.host },
    instancesOf: (instance, name) => servicesOf(swarm.client, instance, name),
    close: () => swarm.remove(),
  };
}

export async function startBackend(name: BackendName): Promise<RuntimeBackend> {
  return name === 'docker' ? dockerBackend() : swarmBackend(await startTestSwarm());
}
