import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { startPostgres, type PrivatePostgres } from './postgres.js';
import { startPrivateDocker, type PrivateDocker } from './private-docker.js';
import { startRegistry, type TestRegistry } from './registry.js';

// Three machines on this one: three Docker engines, each in a network namespace of its own
// (test/support/private-docker.ts with `netns`), joined to a host bridge by a veth, made
// one swarm (the first node manages, the others work); a registry on the bridge's host
// address that every node pulls from; and a private PostgreSQL for the controllers, which
// run on the host. Needs root, docker.io, docker-registry and postgresql (scripts/setup.sh).
// /work/shared/notes/swarm-on-one-machine.md says why each piece is as it is.

const run = promisify(execFile);
const NODE_COUNT = 3;
const READY_TIMEOUT_MS = 60_000;
/** Swarm's heartbeat: a node lost is marked down after a few periods (5 s by default). */
const HEARTBEAT_NS = 1_000_000_000;
const OWNER_PREFIX = 'luma-cluster-';

export interface ClusterNode {
  /** node1 (the manager), node2, node3. */
  name: string;
  /** Its address on the cluster's bridge, where its tasks' host-mode ports answer. */
  address: string;
  netns: string;
  engine: PrivateDocker;
  /** Its swarm node ID. */
  id: string;
}

export interface TestCluster {
  nodes: ClusterNode[];
  manager: ClusterNode;
  /** HOST:PORT of the registry every node pulls from. */
  registry: string;
  postgres: PrivatePostgres;
  /** The machine is lost: its link goes down and every process of its engine is SIGKILLed. */
  killNode(node: ClusterNode): Promise<void>;
  /** Tears everything down, whatever state it is in; safe to call twice. */
  remove(): Promise<void>;
}

/** What a later run needs to remove a cluster whose test process died. */
interface Owner {
  pid: number;
  bridge: string;
  namespaces: string[];
  rule: string[];
}

function ownerFile(suffix: string): string {
  return path.join('/tmp', `${OWNER_PREFIX}${suffix}.json`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The network half: namespaces (their veths go with them), the bridge, the FORWARD rule. */
async function removeNetwork(owner: Owner): Promise<void> {
  for (const netns of owner.namespaces) await run('ip', ['netns', 'del', netns]).catch(() => undefined);
  await run('ip', ['link', 'del', owner.bridge]).catch(() => undefined);
  await run('iptables', ['-D', ...owner.rule]).catch(() => undefined);
}

/** Networks of clusters whose test process died (their engines are private-docker's to clean). */
async function removeAbandoned(): Promise<void> {
  for (const entry of await readdir('/tmp')) {
    if (!entry.startsWith(OWNER_PREFIX)) continue;
    const file = path.join('/tmp', entry);
    const owner = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Partial<Owner>;
    if (!owner.pid || alive(owner.pid) || !owner.bridge) continue;
    await removeNetwork({
      pid: owner.pid,
      bridge: owner.bridge,
      namespaces: owner.namespaces ?? [],
      rule: owner.rule ?? [],
    });
    await rm(file, { force: true });
  }
}

/** The host's dockerd drops forwarded frames (FORWARD policy DROP): let the bridge's ports talk. */
async function forwardRule(bridge: string): Promise<string[]> {
  const chain = await run('iptables', ['-n', '-L', 'DOCKER-USER']).then(
    () => 'DOCKER-USER',
    () => 'FORWARD',
  );
  return [chain, '-i', bridge, '-o', bridge, '-j', 'ACCEPT'];
}

async function makeNetwork(owner: Owner, prefix: string, suffix: string): Promise<string[]> {
  await run('ip', ['link', 'add', owner.bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `${prefix}.1/24`, 'dev', owner.bridge]);
  await run('ip', ['link', 'set', owner.bridge, 'up']);
  await run('iptables', ['-I', ...owner.rule]);
  const addresses: string[] = [];
  for (const [index, netns] of owner.namespaces.entries()) {
    const veth = `lcv${suffix}${index}`;
    const address = `${prefix}.${11 + index}`;
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await run('ip', ['link', 'set', veth, 'master', owner.bridge, 'up']);
    await run('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', netns, 'route', 'add', 'default', 'via', `${prefix}.1`]);
    addresses.push(address);
  }
  return addresses;
}

async function formSwarm(nodes: Array<Omit<ClusterNode, 'id'>>): Promise<ClusterNode[]> {
  const [manager, ...workers] = nodes;
  if (!manager) throw new Error('a cluster needs a node');
  await manager.engine.client.swarmInit({
    ListenAddr: `${manager.address}:2377`,
    AdvertiseAddr: manager.address,
    Spec: {
      Orchestration: { TaskHistoryRetentionLimit: 2 },
      Dispatcher: { HeartbeatPeriod: HEARTBEAT_NS },
    },
  });
  const swarm = (await manager.engine.client.swarmInspect()) as { JoinTokens: { Worker: string } };
  for (const worker of workers)
    await worker.engine.client.swarmJoin({
      ListenAddr: `${worker.address}:2377`,
      AdvertiseAddr: worker.address,
      RemoteAddrs: [`${manager.address}:2377`],
      JoinToken: swarm.JoinTokens.Worker,
    });
  return Promise.all(
    nodes.map(async (node) => {
      const info = (await node.engine.client.info()) as { Swarm?: { NodeID?: string } };
      return { ...node, id: info.Swarm?.NodeID ?? '' };
    }),
  );
}

async function allReady(client: Docker): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const nodes = (await client.listNodes()) as Array<{ Status?: { State?: string } }>;
    if (nodes.length === NODE_COUNT && nodes.every((node) => node.Status?.State === 'ready')) return;
    if (Date.now() > deadline) throw new Error(`the swarm's ${NODE_COUNT} nodes were not ready within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function leave(engine: PrivateDocker): Promise<void> {
  const services = await engine.client.listServices().catch(() => []);
  await Promise.all(
    services.map((s) =>
      engine.client
        .getService(s.ID)
        .remove()
        .catch(() => undefined),
    ),
  );
  await engine.client.swarmLeave({ force: true }).catch(() => undefined);
}

export async function startTestCluster(): Promise<TestCluster> {
  if (process.getuid?.() !== 0) throw new Error('a cluster of network namespaces needs root; run this test as root');
  await removeAbandoned();
  const suffix = randomBytes(2).toString('hex');
  const bytes = randomBytes(2);
  // 10.60–99.x.0/24: clear of private-docker's bridges (10.200–249) and gateway bridges (10.150–199).
  const prefix = `10.${60 + (bytes[0]! % 40)}.${bytes[1]}`;
  const bridge = `lcb${suffix}`;
  const owner: Owner = {
    pid: process.pid,
    bridge,
    namespaces: Array.from({ length: NODE_COUNT }, (_, index) => `lcn${suffix}-${index + 1}`),
    rule: await forwardRule(bridge),
  };
  await writeFile(ownerFile(suffix), JSON.stringify(owner));
  const engines: PrivateDocker[] = [];
  let registry: TestRegistry | undefined;
  let postgres: PrivatePostgres | undefined;
  let removing: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (removing ??= (async () => {
      for (const engine of [...engines].reverse()) await leave(engine);
      for (const engine of engines) await engine.remove();
      await registry?.stop();
      await postgres?.remove();
      await removeNetwork(owner);
      await rm(ownerFile(suffix), { force: true });
    })());
  try {
    const addresses = await makeNetwork(owner, prefix, suffix);
    registry = await startRegistry(`${prefix}.1`);
    const prepared: Array<Omit<ClusterNode, 'id'>> = [];
    for (const [index, netns] of owner.namespaces.entries()) {
      const engine = await startPrivateDocker({ netns, insecureRegistries: [registry.address] });
      engines.push(engine);
      prepared.push({ name: `node${index + 1}`, address: addresses[index]!, netns, engine });
    }
    const nodes = await formSwarm(prepared);
    await allReady(nodes[0]!.engine.client);
    postgres = await startPostgres();
    const killNode = async (node: ClusterNode): Promise<void> => {
      await run('ip', ['-n', node.netns, 'link', 'set', 'eth0', 'down']);
      await node.engine.killAll();
    };
    return { nodes, manager: nodes[0]!, registry: registry.address, postgres, killNode, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
