import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { startPrivateDocker, type PrivateDocker } from './private-docker.js';
import { startRegistry, type TestRegistry } from './registry.js';

// A one-node Docker Swarm of the test's own and a real registry beside it: a private
// dockerd (test/support/private-docker.ts) made a swarm manager, advertising its bridge
// address, with `docker-registry` listening on that same address (the engine marks the
// bridge subnet --insecure-registry). Needs root, docker.io and docker-registry
// (scripts/setup.sh). See /work/shared/notes/swarm-on-one-machine.md for why tasks
// publish in host mode and why the registry is needed at all.

export interface TestSwarm {
  /** For DOCKER_HOST: the manager's socket. */
  host: string;
  client: Docker;
  /** The node's address (its Status.Addr), where host-mode ports answer. */
  nodeAddress: string;
  /** HOST:PORT of the registry the node pulls from (`--registry`, LUMA_REGISTRY). */
  registry: string;
  /** Removes every service, leaves the swarm, stops the registry and the engine; safe to call twice. */
  remove(): Promise<void>;
}

/**
 * Swarm makes a host bridge called docker_gwbridge on init. Made here first, with a
 * Linux name derived from the engine's bridge, so that it cannot collide with another
 * engine's and the private engine's clean-up (which deletes `${bridge}g`) finds it.
 */
async function createGatewayBridge(engine: PrivateDocker): Promise<void> {
  const bytes = randomBytes(2);
  await engine.client.createNetwork({
    Name: 'docker_gwbridge',
    Driver: 'bridge',
    Options: {
      'com.docker.network.bridge.name': `${engine.bridge}g`,
      'com.docker.network.bridge.enable_icc': 'false',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    },
    IPAM: { Config: [{ Subnet: `10.${150 + (bytes[0]! % 50)}.${bytes[1]}.0/24` }] },
  });
}

async function leave(client: Docker): Promise<void> {
  const services = await client.listServices().catch(() => []);
  await Promise.all(
    services.map((service) =>
      client
        .getService(service.ID)
        .remove()
        .catch(() => undefined),
    ),
  );
  await client.swarmLeave({ force: true }).catch(() => undefined);
  await client
    .getNetwork('docker_gwbridge')
    .remove()
    .catch(() => undefined);
}

export async function startTestSwarm(): Promise<TestSwarm> {
  const engine = await startPrivateDocker({ insecureBridgeRegistries: true });
  let registry: TestRegistry | undefined;
  let removing: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (removing ??= (async () => {
      await leave(engine.client);
      await registry?.stop();
      await engine.remove();
    })());
  try {
    await createGatewayBridge(engine);
    await engine.client.swarmInit({
      ListenAddr: `${engine.bridgeAddress}:2377`,
      AdvertiseAddr: engine.bridgeAddress,
      // Tasks scaled down are kept for their exit codes, but not many.
      Spec: { Orchestration: { TaskHistoryRetentionLimit: 2 } },
    });
    registry = await startRegistry(engine.bridgeAddress);
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    host: engine.host,
    client: engine.client,
    nodeAddress: engine.bridgeAddress,
    registry: registry.address,
    remove,
  };
}
