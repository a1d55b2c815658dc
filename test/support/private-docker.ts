import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { TEST_IMAGE } from './docker.js';

// A second Docker engine of the test's own (its own data root, exec root, socket and
// bridge), which a test may kill and restart without touching the machine's dockerd that
// everyone else's tests use. Needs root and Debian's docker.io (dockerd).

const run = promisify(execFile);
const READY_TIMEOUT_MS = 60_000;

export interface PrivateDocker {
  /** For DOCKER_HOST. */
  host: string;
  client: Docker;
  /** SIGKILL of dockerd and its containerd: an engine crash. Containers' shims live on. */
  kill(): Promise<void>;
  /** Starts the engine again on the same data root and waits until it answers. */
  start(): Promise<void>;
  /** Removes every container, stops the engine, deletes its bridge and its directories. */
  remove(): Promise<void>;
}

async function waitForEngine(client: Docker, logFile: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await client.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the private dockerd did not answer within ${READY_TIMEOUT_MS / 1000}s: ${String(error)}\n${logFile()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
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

export async function startPrivateDocker(): Promise<PrivateDocker> {
  if (process.getuid?.() !== 0) throw new Error('a private dockerd (its bridge, mounts and namespaces) needs root; run this test as root');
  // Short: a Unix socket path has at most 107 bytes.
  const root = await mkdtemp('/tmp/luma-dockerd-');
  const socket = path.join(root, 'docker.sock');
  const suffix = randomBytes(3).toString('hex');
  // A bridge of its own (docker0 may be the shared engine's); no iptables: docker-proxy publishes ports.
  const bridge = `lumad${suffix}`;
  const subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]}.1/24`;
  await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'add', subnet, 'dev', bridge]);
  await run('ip', ['link', 'set', bridge, 'up']);
  const client = new Docker({ socketPath: socket });
  let daemon: ChildProcess | undefined;
  let log = '';

  const start = async (): Promise<void> => {
    daemon = spawn(
      'dockerd',
      [
        '--host', `unix://${socket}`,
        '--data-root', path.join(root, 'data'),
        '--exec-root', path.join(root, 'exec'),
        '--pidfile', path.join(root, 'dockerd.pid'),
        '--bridge', bridge,
        '--iptables=false',
        '--ip6tables=false',
        '--ip-masq=false',
      ],
      // Its own process group, so that a kill takes its containerd along.
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    daemon.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    daemon.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await waitForEngine(client, () => log.slice(-4_000));
  };

  const signalGroup = async (signal: NodeJS.Signals): Promise<void> => {
    const child = daemon;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid, signal);
    } catch {
      return;
    }
    await exited;
  };

  await start();
  await run('sh', ['-c', `docker save ${TEST_IMAGE} | docker -H unix://${socket} load -q`]);

  return {
    host: `unix://${socket}`,
    client,
    kill: () => signalGroup('SIGKILL'),
    start,
    remove: async () => {
      // A killed engine left its containers running under their shims: only an engine removes them.
      if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) await start().catch(() => undefined);
      try {
        const containers = await client.listContainers({ all: true });
        await Promise.all(containers.map((container) => client.getContainer(container.Id).remove({ force: true }).catch(() => undefined)));
      } catch {
        // The engine did not come back: SIGTERM below still ends what is left of it.
      }
      await signalGroup('SIGTERM');
      await run('ip', ['link', 'del', bridge]).catch(() => undefined);
      await unmountUnder(root);
      await rm(root, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
