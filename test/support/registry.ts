import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

// A real image registry for the Swarm tests: Debian's `docker-registry` (the CNCF
// distribution server), serving plain HTTP on one address with its storage in a temporary
// directory. Engines that pull from it mark it with --insecure-registry.

const READY_TIMEOUT_MS = 20_000;

export interface TestRegistry {
  /** HOST:PORT, the prefix of image references pushed to it. */
  address: string;
  stop(): Promise<void>;
}

/** A port free on `host` now (the registry binds it a moment later). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function config(storage: string, address: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${address}`,
    '',
  ].join('\n');
}

async function answers(address: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Starts `docker-registry serve` on `host` (a free port) and waits until /v2/ answers. */
export async function startRegistry(host: string): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'luma-registry-'));
  const address = `${host}:${await freePort(host)}`;
  const file = path.join(dir, 'config.yml');
  await writeFile(file, config(path.join(dir, 'storage'), address));
  let log = '';
  const child = spawn('docker-registry', ['serve', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4_000)));
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4_000)));
  child.on('error', (error) => (log += String(error)));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await answers(address))) {
    const ended = child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
    if (ended || Date.now() > deadline) {
      await stop();
      throw new Error(
        `docker-registry did not answer on ${address} (install Debian's docker-registry: scripts/setup.sh):\n${log}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { address, stop };
}
