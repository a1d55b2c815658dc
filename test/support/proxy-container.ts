import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { docker, removeInstanceContainers } from './docker.js';
import { REPO_ROOT } from './luma.js';

// The proxy daemon's image (scripts/proxy-image.sh, `make proxy-image`) in a test run:
// built under a tag of the run's own, everything marked with the run's instance label so
// that cleanup finds it whatever state the test ended in.

const run = promisify(execFile);

export const INSTANCE_LABEL = 'luma.dev/instance';

export function proxyImageTag(instance: string): string {
  return `luma-proxy-test:${instance}`;
}

/** Runs the script `make proxy-image` runs (the e2e suite runs after `npm run build`). */
export async function buildProxyImage(instance: string): Promise<string> {
  const tag = proxyImageTag(instance);
  await run('bash', [path.join(REPO_ROOT, 'scripts/proxy-image.sh')], {
    env: { ...process.env, LUMA_PROXY_IMAGE: tag, LUMA_PROXY_LABEL: `${INSTANCE_LABEL}=${instance}` },
  });
  return tag;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `docker exec CONTAINER ARGS…`, as a user types it; a failure is a result, not a throw. */
export async function dockerExec(container: string, args: string[]): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await run('docker', ['exec', container, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

export async function dockerCli(args: string[]): Promise<string> {
  return (await run('docker', args)).stdout.trim();
}

/** The host port Docker published for the container's `port`/tcp. */
export async function publishedPort(container: string, port: number): Promise<number> {
  const info: Docker.ContainerInspectInfo = await docker.getContainer(container).inspect();
  const binding = info.NetworkSettings.Ports[`${port}/tcp`]?.[0];
  if (!binding) throw new Error(`${container} publishes no port for ${port}/tcp`);
  return Number(binding.HostPort);
}

/** Containers, networks, volumes and the image of one run, in the order Docker needs. */
export async function removeProxyRun(instance: string): Promise<void> {
  await removeInstanceContainers(instance);
  const { Volumes } = await docker.listVolumes({ filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
  await Promise.all(
    (Volumes ?? []).map((volume) =>
      docker
        .getVolume(volume.Name)
        .remove()
        .catch(() => undefined),
    ),
  );
  await docker
    .getImage(proxyImageTag(instance))
    .remove({ force: true })
    .catch(() => undefined);
}
