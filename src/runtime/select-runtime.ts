import Docker from 'dockerode';
import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/error-message.js';
import { DockerRuntime } from './docker-runtime.js';
import { DockerUnavailableError, isUnreachableError } from './errors.js';
import type { ContainerRuntime, ImageRuntime } from './runtime.js';
import type { RuntimeName } from './runtime-names.js';
import { SwarmRuntime } from './swarm/swarm-runtime.js';

// Which driver runs the apps: `--runtime docker|swarm` (LUMA_RUNTIME). Without the flag,
// Docker, and a word in the log when the engine is a swarm manager, since its operator
// may have meant Swarm.

export interface RuntimeChoice {
  runtime?: RuntimeName;
  /** HOST:PORT of the registry the swarm's nodes pull from (`--registry`, LUMA_REGISTRY). */
  registry?: string;
}

/** What the control plane drives: containers, images, and where the engine is. */
export type EngineRuntime = ContainerRuntime & ImageRuntime & { readonly endpoint: string };

export class RuntimeChoiceError extends Error {
  readonly code = 'RuntimeChoice';
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeChoiceError';
  }
}

interface SwarmRole {
  state: string;
  manager: boolean;
}

async function swarmRole(docker: Docker, endpoint: string): Promise<SwarmRole> {
  try {
    const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    const state = info.Swarm?.LocalNodeState || 'inactive';
    return { state, manager: state === 'active' && info.Swarm?.ControlAvailable === true };
  } catch (error) {
    if (isUnreachableError(error)) throw new DockerUnavailableError(endpoint, errorMessage(error));
    throw error;
  }
}

export interface OpenRuntimeOptions extends RuntimeChoice {
  instance: string;
  /** A Swarm task's stop grace period (the operator's stopTimeout). */
  stopGraceSeconds: number;
  logger: Logger;
  docker?: Docker;
}

const REGISTRY_ADDRESS = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/;

/** `--registry HOST:PORT`: what image references start with, so no scheme and no path. */
export function checkRegistry(value: string): string {
  if (!REGISTRY_ADDRESS.test(value))
    throw new RuntimeChoiceError(`--registry: expected HOST:PORT such as 10.0.0.1:5000, got "${value}"`);
  return value;
}

export async function openRuntime(options: OpenRuntimeOptions): Promise<EngineRuntime> {
  if (options.registry !== undefined) checkRegistry(options.registry);
  const docker = options.docker ?? new Docker();
  const endpoint = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  const role = await swarmRole(docker, endpoint);
  const where = { component: 'runtime', endpoint };
  if (options.runtime !== 'swarm') {
    if (options.registry) throw new RuntimeChoiceError('--registry is for --runtime swarm only');
    if (role.manager && options.runtime === undefined)
      options.logger.info(
        where,
        'this Docker engine is a swarm manager, but Luma runs apps as plain containers on this node; pass --runtime swarm (LUMA_RUNTIME=swarm) with --registry HOST:PORT to run them as Swarm services across the cluster, or --runtime docker to keep this and silence this line',
      );
    return new DockerRuntime({ instance: options.instance, docker });
  }
  if (!role.manager)
    throw new RuntimeChoiceError(
      `--runtime swarm: the Docker engine at ${endpoint} is not a swarm manager (swarm state: ${role.state}); run \`docker swarm init\` there, or point DOCKER_HOST at a manager`,
    );
  if (!options.registry)
    options.logger.warn(
      where,
      'no --registry: services name images as they are, so every node must be able to pull them; images built by Luma exist only on this manager',
    );
  options.logger.info({ ...where, registry: options.registry }, 'running apps as Swarm services');
  return new SwarmRuntime({
    instance: options.instance,
    docker,
    ...(options.registry ? { registry: options.registry } : {}),
    stopGraceSeconds: options.stopGraceSeconds,
  });
}
