import { execFile } from 'node:child_process';
import { copyFile, cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

// Test helpers that use Docker directly: building the test app's image from local files
// and removing everything a test run created (found by its instance label).

const run = promisify(execFile);
const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/app');
export const TEST_IMAGE = 'luma-test/app:latest';

export const docker = new Docker();

let built: Promise<void> | undefined;

/** Builds the busybox test app once per process; nothing is pulled. */
export function buildTestImage(): Promise<void> {
  built ??= (async () => {
    const context = await mkdtemp(path.join(os.tmpdir(), 'luma-test-app-'));
    try {
      await cp(FIXTURE, context, { recursive: true });
      await copyFile('/bin/busybox', path.join(context, 'busybox'));
      await run('docker', ['build', '-q', '-t', TEST_IMAGE, context]);
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  })();
  return built;
}

export function testInstance(label: string): string {
  return `t-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    .toLowerCase()
    .slice(0, 40)
    .replace(/-+$/, '');
}

export async function containersOf(instance: string, name?: string): Promise<Docker.ContainerInfo[]> {
  const labels = [`luma.dev/instance=${instance}`];
  if (name) labels.push(`luma.dev/name=${name}`);
  return docker.listContainers({ all: true, filters: { label: labels } });
}

export async function runningContainersOf(instance: string, name?: string): Promise<Docker.ContainerInfo[]> {
  return (await containersOf(instance, name)).filter((container) => container.State === 'running');
}

/**
 * Removes every container a test run made, whatever state the run ended in, then the
 * run's isolated network (Luma makes one per instance): Docker's address pools hold only
 * about 30 networks, so a run that left its network behind would use one up for good.
 */
export async function removeInstanceContainers(instance: string): Promise<void> {
  const containers = await containersOf(instance);
  await Promise.all(
    containers.map((container) =>
      docker
        .getContainer(container.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  await removeInstanceNetworks(instance);
}

export async function networksOf(instance: string): Promise<Docker.NetworkInspectInfo[]> {
  return docker.listNetworks({ filters: { label: [`luma.dev/instance=${instance}`] } });
}

async function removeInstanceNetworks(instance: string): Promise<void> {
  const networks = await networksOf(instance);
  await Promise.all(
    networks.map((network) =>
      docker
        .getNetwork(network.Id)
        .remove()
        .catch(() => undefined),
    ),
  );
}
