import type { ProjectObject } from '../model/types.js';
import type { ProjectSettings, ProjectSettingsResolver } from '../model/project-settings.js';
import type { DeployRequest } from '../proxy/management.js';
import type { ContainerSpec, ManagedContainer } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { shortHash } from '../util/hash.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { withSecretEnv } from '../secrets/secret-env.js';
import { resolveProjectImage } from './image-resolution.js';

// Pure builders shared by the project reconciler's jobs: what a project's route and
// container spec hash are, and what it runs once its image is resolved.

export const LOOPBACK = '127.0.0.1';

/** Where a container's published port answers: its node's address on Swarm, loopback on one host. */
export function hostOf(container: ManagedContainer): string {
  return container.hostAddress ?? LOOPBACK;
}

export function addressOf(container: ManagedContainer): string {
  return `${hostOf(container)}:${container.hostPort}`;
}

/**
 * The fields that shape a container: any change replaces it. Scaling, routing and the
 * liveness check do not. Variables from Secrets count by their digests, never their values.
 */
export function containerSpecHash(settings: ProjectSettings): string {
  const secrets = settings.secretDigests;
  const env = secrets
    ? Object.fromEntries(Object.entries(settings.env).filter(([name]) => !(name in secrets)))
    : settings.env;
  return shortHash({
    image: settings.image,
    port: settings.port,
    env,
    // Absent without secrets, so that the hashes of existing containers stay as they were.
    secrets,
    command: settings.command ?? null,
    // Only when declared: a manifest without args hashes as it did before args existed, so
    // an upgrade replaces no container whose process is unchanged.
    ...(settings.args ? { args: settings.args } : {}),
    cpuMillis: settings.cpuMillis ?? null,
    memoryBytes: settings.memoryBytes ?? null,
    // The whole kept set, not only the project's additions: a change to what Luma keeps
    // replaces containers made with more.
    capabilities: settings.capabilities,
  });
}

/** What the container's process is: ENTRYPOINT and CMD as the project declares them (runtime.ts). */
export function processOf(settings: ProjectSettings): Pick<ContainerSpec, 'command' | 'args'> {
  return {
    ...(settings.command ? { command: settings.command } : {}),
    ...(settings.args ? { args: settings.args } : {}),
  };
}

/** The route of a project: its hosts, these targets, and why it answers 503 when it has none. */
export function routeFor(
  name: string,
  settings: ProjectSettings,
  targets: readonly ManagedContainer[],
  unavailableReason?: string,
): DeployRequest {
  return {
    service: name,
    hosts: settings.hostnames,
    targets: targets.map(addressOf),
    startupTimeoutMs: settings.startupTimeoutMs,
    targetConcurrency: settings.targetConcurrency,
    requestTimeoutMs: settings.requestTimeoutMs,
    ...(settings.maxConcurrency !== undefined
      ? { maxConcurrency: settings.maxConcurrency, maxQueued: settings.maxQueued }
      : {}),
    // spec.tls: HTTPS with an automatic certificate, and plain HTTP redirected to it.
    ...(settings.tls ? { tls: true, sslRedirect: true } : {}),
    // spec.http2: the proxy speaks h2c to the app (src/proxy/h2c/).
    ...(settings.http2 ? { h2c: true } : {}),
    ...(unavailableReason !== undefined ? { unavailableReason } : {}),
  };
}

/**
 * What a project runs: its settings with the image and secrets resolved, or why there is
 * no image yet, or which secret is missing.
 */
export type Runnable =
  | { declared: ProjectSettings; settings: ProjectSettings; hash: string }
  | { declared: ProjectSettings; waitingFor: string }
  | { declared: ProjectSettings; missingSecret: string };

export function resolveRunnable(
  store: ObjectStore,
  project: ProjectObject,
  projectSettings: ProjectSettingsResolver,
  secrets?: SecretBox,
): Runnable {
  const declared = projectSettings.forProject(project.spec);
  const image = resolveProjectImage(store, declared.image);
  if ('waitingFor' in image) return { declared, waitingFor: image.waitingFor };
  const settings = withSecretEnv({ ...declared, image: image.ref }, store, secrets);
  if ('missing' in settings) return { declared, missingSecret: settings.missing };
  return { declared, settings, hash: containerSpecHash(settings) };
}
