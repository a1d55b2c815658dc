import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { TEST_IMAGE } from './docker.js';

// A second Docker engine of the test's own (its own containerd, data root, exec root,
// sockets and bridge), which a test may kill and restart without touching the machine's
// dockerd that everyone else's tests use. Needs root and Debian's docker.io (dockerd,
// containerd).
//
// containerd is started here, as a child of this process, and dockerd is pointed at it with
// --containerd. Left to itself, dockerd would start a "managed" containerd in a session of
// its own with a parent-death signal and trust a pidfile for it: after a SIGKILL of dockerd
// that containerd dies, but as an orphan it stays a zombie until the machine's init reaps it
// (about 2 s on the Firecracker VMs, whose init reaps by polling), and a dockerd started
// again meanwhile finds the zombie's pid alive, says "containerd is still running", never
// starts one, and gives up after 15 s ("timeout waiting for containerd to start"). A
// containerd of our own is reaped by us the moment it dies. (dockerd would also use a
// system containerd at /run/containerd/containerd.sock instead of starting its own, were
// one running; --containerd rules that out too.)

const run = promisify(execFile);
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
const ROOT_PREFIX = 'luma-dockerd-';
/** In each engine's directory: who made it and which bridge it has, for a later run to clean up after a test process that died. */
const OWNER_FILE = 'owner.json';
const CGROUP_ROOT = '/sys/fs/cgroup';

export interface PrivateDockerOptions {
  /**
   * Registries on the engine's bridge subnet are spoken to over plain HTTP
   * (`--insecure-registry` with the subnet): a test registry listens on the bridge address.
   */
  insecureBridgeRegistries?: boolean;
  /** More `--insecure-registry` entries (HOST:PORT or CIDR): a registry outside the engine's bridge. */
  insecureRegistries?: string[];
  /**
   * A network namespace (a name under /var/run/netns) the engine lives in, as a machine of
   * a cluster: containerd and dockerd run in it (entered with nsenter, which keeps /sys and
   * so the cgroups visible), and its bridge is made there.
   */
  netns?: string;
}

export interface PrivateDocker {
  /** For DOCKER_HOST. */
  host: string;
  /** The host's address on the engine's own bridge (its gateway), reachable from its containers. */
  bridgeAddress: string;
  /** The engine's bridge, for names derived from it (a swarm's docker_gwbridge, say). */
  bridge: string;
  client: Docker;
  /** SIGKILL of dockerd and its containerd, both reaped before this returns: an engine crash. Containers' shims live on. */
  kill(): Promise<void>;
  /** Starts containerd and dockerd again on the same data root and waits until dockerd answers. */
  start(): Promise<void>;
  /** Removes every container, stops the engine, deletes its bridge, mounts, cgroups and directories; kills whatever is left of it. */
  remove(): Promise<void>;
  /** A machine lost: dockerd, containerd, every shim and every container process SIGKILLed at once. */
  killAll(): Promise<void>;
}

interface Owner {
  pid: number;
  bridge: string;
}

function running(child: ChildProcess | undefined): child is ChildProcess {
  return child?.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Signals a child (its process group when it leads one) and waits until it has exited and been reaped. */
async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals, group: boolean): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const send = (sig: NodeJS.Signals): void => {
    try {
      process.kill(group ? -child.pid! : child.pid!, sig);
    } catch {
      // Gone already.
    }
  };
  send(signal);
  if (signal === 'SIGKILL') return exited;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
  if ((await Promise.race([exited, late])) === 'late') {
    send('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

async function until(
  what: string,
  ready: () => Promise<boolean>,
  died: () => string | undefined,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (await ready()) return;
    const death = died();
    if (death) throw new Error(`${what} ${death} before it was ready:\n${log()}`);
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${READY_TIMEOUT_MS / 1000}s:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = connect(socket);
    connection.once('connect', () => {
      connection.destroy();
      resolve(true);
    });
    connection.once('error', () => resolve(false));
  });
}

function exitOf(child: ChildProcess | undefined): string | undefined {
  if (!child) return undefined;
  if (child.pid === undefined) return 'could not be started';
  if (child.exitCode === null && child.signalCode === null) return undefined;
  return child.signalCode ? `was killed by ${child.signalCode}` : `exited with code ${String(child.exitCode)}`;
}

/** dockerd leaves mounts under its data root (the root itself, overlays, netns): undone deepest first. */
async function unmountUnder(root: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) await run('umount', ['-l', mountPoint]).catch(() => undefined);
}

async function processes(): Promise<Array<{ pid: number; ppid: number; pgrp: number; cmdline: string }>> {
  const found = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      found.push({ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp), cmdline });
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

/** The engine's cgroup parent (cgroup v1: one per controller; v2: one), emptied of its containers' cgroups, deepest first. */
async function removeCgroups(name: string): Promise<void> {
  const controllers = await readdir(CGROUP_ROOT).catch(() => [] as string[]);
  const removeTree = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
    if (!entries) return;
    for (const entry of entries) if (entry.isDirectory()) await removeTree(path.join(dir, entry.name));
    await rmdir(dir).catch(() => undefined);
  };
  for (const dir of [
    path.join(CGROUP_ROOT, name),
    ...controllers.map((controller) => path.join(CGROUP_ROOT, controller, name)),
  ])
    await removeTree(dir);
}

/**
 * Whatever an engine under `root` left running when it could not be stopped properly:
 * dockerd, containerd and the shims name `root` on their command lines, and each shim's
 * children are the containers' first processes. All SIGKILLed (dockerd's process group
 * with its docker-proxy processes); then the bridge, the mounts, the cgroups and the
 * directory go.
 */
async function forceRemove(root: string, bridge: string): Promise<void> {
  await killEverythingUnder(root);
  await run('ip', ['link', 'del', bridge]).catch(() => undefined);
  // A swarm's docker_gwbridge, named after the engine's bridge (see test/support/swarm.ts).
  await run('ip', ['link', 'del', `${bridge}g`]).catch(() => undefined);
  await unmountUnder(root);
  await removeCgroups(path.basename(root));
  await rm(root, { recursive: true, force: true }).catch(() => undefined);
}

/** SIGKILLs dockerd's process group, containerd, the shims and the shims' children (the containers). */
async function killEverythingUnder(root: string): Promise<void> {
  const all = await processes();
  const named = all.filter((proc) => proc.pid !== process.pid && proc.cmdline.includes(`${root}/`));
  const shims = new Set(named.filter((proc) => proc.cmdline.includes('containerd-shim')).map((proc) => proc.pid));
  const victims = [...named, ...all.filter((proc) => shims.has(proc.ppid))];
  for (const victim of victims) {
    try {
      process.kill(victim.pgrp === victim.pid ? -victim.pid : victim.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  if (victims.length > 0) await new Promise((resolve) => setTimeout(resolve, 500));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Engines whose test process died before it could remove them (killed by a timeout, say). */
async function removeAbandoned(): Promise<void> {
  for (const entry of await readdir('/tmp')) {
    if (!entry.startsWith(ROOT_PREFIX)) continue;
    const root = path.join('/tmp', entry);
    let owner: Owner;
    try {
      owner = JSON.parse(await readFile(path.join(root, OWNER_FILE), 'utf8')) as Owner;
    } catch {
      continue; // Not one of ours, or still being made.
    }
    if (owner.pid !== process.pid && !alive(owner.pid)) await forceRemove(root, owner.bridge);
  }
}

function containerdConfig(dir: string): string {
  const quote = (value: string): string => JSON.stringify(value);
  return [
    'version = 2',
    `root = ${quote(path.join(dir, 'root'))}`,
    `state = ${quote(path.join(dir, 'state'))}`,
    // dockerd needs none of Kubernetes' CRI.
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '',
    '[grpc]',
    `  address = ${quote(path.join(dir, 'containerd.sock'))}`,
    '',
    '[ttrpc]',
    `  address = ${quote(path.join(dir, 'containerd.sock.ttrpc'))}`,
    '',
    '[debug]',
    `  address = ${quote(path.join(dir, 'debug.sock'))}`,
    '  level = "info"',
    '',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${quote(path.join(dir, 'opt'))}`,
    '',
  ].join('\n');
}

export async function startPrivateDocker(options: PrivateDockerOptions = {}): Promise<PrivateDocker> {
  if (process.getuid?.() !== 0)
    throw new Error('a private dockerd (its bridge, mounts and namespaces) needs root; run this test as root');
  await removeAbandoned();
  // Short: a Unix socket path has at most 107 bytes.
  const root = await mkdtemp(`/tmp/${ROOT_PREFIX}`);
  const socket = path.join(root, 'docker.sock');
  const containerdDir = path.join(root, 'containerd');
  const containerdSocket = path.join(containerdDir, 'containerd.sock');
  const containerdToml = path.join(root, 'containerd.toml');
  const suffix = randomBytes(3).toString('hex');
  // A bridge of its own (docker0 may be the shared engine's); no iptables: docker-proxy publishes ports.
  const bridge = `lumad${suffix}`;
  const subnetPrefix = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]}`;
  const subnet = `${subnetPrefix}.1/24`;
  const owner: Owner = { pid: process.pid, bridge };
  await writeFile(path.join(root, OWNER_FILE), JSON.stringify(owner));
  const client = new Docker({ socketPath: socket });
  let containerd: ChildProcess | undefined;
  let dockerd: ChildProcess | undefined;
  let log = '';
  // The last lines of both daemons, without gRPC's connection chatter and containerd's plugin list.
  const logTail = (): string =>
    log
      .split('\n')
      .filter((line) => !line.includes('module=grpc') && !line.includes('msg="loading plugin'))
      .join('\n')
      .slice(-4_000);

  const spawnDaemon = (name: string, command: string, args: string[]): ChildProcess => {
    // Its own process group: a kill of dockerd's group takes its docker-proxy processes along.
    // nsenter execs the daemon in the namespace: the child's pid is the daemon's.
    const [file, argv] = options.netns
      ? ['nsenter', [`--net=/var/run/netns/${options.netns}`, command, ...args]]
      : [command, args];
    const child = spawn(file, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    // Whole lines, each marked with its daemon; the last 200 kB of them.
    let partial = '';
    const append = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      log = (log + lines.map((line) => `${name}: ${line}\n`).join('')).slice(-200_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.on('error', (error) => (log += `${name}: ${String(error)}\n`));
    return child;
  };

  const start = async (): Promise<void> => {
    if (!running(containerd)) {
      await rm(containerdSocket, { force: true });
      containerd = spawnDaemon('containerd', 'containerd', ['--config', containerdToml]);
      const current = containerd;
      await until(
        'the private containerd',
        () => accepts(containerdSocket),
        () => exitOf(current),
        logTail,
      );
    }
    if (!running(dockerd)) {
      dockerd = spawnDaemon('dockerd', 'dockerd', [
        '--host',
        `unix://${socket}`,
        '--containerd',
        containerdSocket,
        '--data-root',
        path.join(root, 'data'),
        '--exec-root',
        path.join(root, 'exec'),
        '--pidfile',
        path.join(root, 'dockerd.pid'),
        '--bridge',
        bridge,
        // Its containers' cgroups under a parent of its own, not the shared engine's /docker
        // (a path, so the cgroupfs driver even where dockerd would pick systemd's).
        '--exec-opt',
        'native.cgroupdriver=cgroupfs',
        '--cgroup-parent',
        `/${path.basename(root)}`,
        '--iptables=false',
        '--ip6tables=false',
        '--ip-masq=false',
        ...(options.insecureBridgeRegistries ? ['--insecure-registry', `${subnetPrefix}.0/24`] : []),
        ...(options.insecureRegistries ?? []).flatMap((registry) => ['--insecure-registry', registry]),
      ]);
      const current = dockerd;
      await until(
        'the private dockerd',
        () =>
          client.ping().then(
            () => true,
            () => false,
          ),
        () => exitOf(current),
        logTail,
      );
    }
  };

  const kill = async (): Promise<void> => {
    await Promise.all([stop(dockerd, 'SIGKILL', true), stop(containerd, 'SIGKILL', false)]);
  };

  const remove = async (): Promise<void> => {
    try {
      // A killed engine left its containers running under their shims: only an engine removes them.
      await start();
      const containers = await client.listContainers({ all: true });
      await Promise.all(containers.map((container) => client.getContainer(container.Id).remove({ force: true })));
      // Luma's isolated network is a host bridge (br-…) with a subnet route: left behind, it
      // would take an address pool away from the shared engine.
      await client.pruneNetworks();
    } catch {
      // The engine did not come back, or a container would not go: forceRemove below ends what is left.
    }
    await stop(dockerd, 'SIGTERM', true);
    await stop(containerd, 'SIGTERM', false);
    await forceRemove(root, bridge);
  };

  try {
    await mkdir(containerdDir);
    await writeFile(containerdToml, containerdConfig(containerdDir));
    const inNamespace = options.netns ? ['-n', options.netns] : [];
    await run('ip', [...inNamespace, 'link', 'add', bridge, 'type', 'bridge']);
    await run('ip', [...inNamespace, 'addr', 'add', subnet, 'dev', bridge]);
    await run('ip', [...inNamespace, 'link', 'set', bridge, 'up']);
    await start();
    await run('sh', ['-c', `docker save ${TEST_IMAGE} | docker -H unix://${socket} load -q`]);
  } catch (error) {
    await kill();
    await forceRemove(root, bridge);
    throw error;
  }

  const killAll = async (): Promise<void> => {
    await kill();
    await killEverythingUnder(root);
  };
  return { host: `unix://${socket}`, bridgeAddress: `${subnetPrefix}.1`, bridge, client, kill, start, remove, killAll };
}
