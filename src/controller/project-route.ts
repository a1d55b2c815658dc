import type { ProjectObject } from '../model/types.js';
import {
  resolveProjectSettings,
  type ProjectSettings,
  type ProjectSettingsOverrides,
} from '../model/project-settings.js';
import type { DeployRequest } from '../proxy/management.js';
import type { ManagedContainer } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { shortHash } from '../util/hash.js';
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

/** The fields that shape a container: any change replaces it. Scaling and routing do not. */
export function containerSpecHash(settings: ProjectSettings): string {
  return shortHash({
    image: settings.image,
    port: settings.port,
    env: settings.env,
    command: settings.command ?? null,
    cpuMillis: settings.cpuMillis ?? null,
    memoryBytes: settings.memoryBytes ?? null,
    // The whole kept set, not only the project's additions: a change to what Luma keeps
    // replaces containers made with more.
    capabilities: settings.capabilities,
  });
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
    // spec.tls: HTTPS with an automatic certificate, and plain HTTP redirected to it.
    ...(settings.tls ? { tls: true, sslRedirect: true } : {}),
    ...(unavailableReason !== undefined ? { unavailableReason } : {}),
  };
}

/** What a project runs: its settings with the image resolved, or why there is no image yet. */
export type Runnable =
  | { declared: ProjectSettings; settings: ProjectSettings; hash: string }
  | { declared: ProjectSettings; waitingFor: string };

export function resolveRunnable(
  store: ObjectStore,
  project: ProjectObject,
  defaults: ProjectSettingsOverrides,
): Runnable {
  const declared = resolveProjectSettings(project.spec, defaults);
  const image = resolveProjectImage(store, declared.image);
  if ('waitingFor' in image) return { declared, waitingFor: image.waitingFor };
  const settings: ProjectSettings = { ...declared, image: image.ref };
  return { declared, settings, hash: containerSpecHash(settings) };
}
