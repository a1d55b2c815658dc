import type { ContainerCreateOptions } from 'dockerode';
import { containerCapabilities } from '../model/capabilities.js';
import { LABELS, ownerLabels } from './labels.js';
import type { ContainerSpec } from './runtime.js';

// What Docker is asked for when Luma creates a container: pure, so that every hardening
// default can be read in one place and tested without an engine. docs/security.md lists
// each one and why.

/** A fork bomb stays inside its container. */
export const CONTAINER_PID_LIMIT = 1024;

export interface CreateRequest {
  instance: string;
  name: string;
  /** The installation's isolated bridge (see docker-network.ts). */
  network: string;
  spec: ContainerSpec;
}

export function containerCreateOptions({ instance, name, network, spec }: CreateRequest): ContainerCreateOptions {
  const portKey = `${spec.port}/tcp`;
  return {
    name,
    Image: spec.image,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    ...processOptions(spec),
    Labels: {
      ...ownerLabels(instance, spec.owner, spec.specHash, spec.port, spec.role ?? 'instance'),
      ...(spec.memoryBytes ? { [LABELS.memory]: String(spec.memoryBytes) } : {}),
      ...(spec.revision ? { [LABELS.revision]: spec.revision } : {}),
    },
    ExposedPorts: { [portKey]: {} },
    HostConfig: {
      // Docker picks a free port; binding to loopback keeps apps off the network.
      PortBindings: { [portKey]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
      // Not the default bridge: on this one containers cannot open connections to each other.
      NetworkMode: network,
      // An init process forwards SIGTERM, so `docker stop` does not wait out its timeout.
      Init: true,
      SecurityOpt: ['no-new-privileges'],
      // Start from no capability at all, and give back only what an HTTP app needs.
      CapDrop: ['ALL'],
      CapAdd: spec.capabilities ? [...spec.capabilities] : containerCapabilities(),
      PidsLimit: CONTAINER_PID_LIMIT,
      RestartPolicy: { Name: 'no' },
      ...(spec.cpuMillis ? { NanoCpus: spec.cpuMillis * 1_000_000 } : {}),
      ...(spec.memoryBytes ? { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes } : {}),
    },
  };
}

/**
 * Kubernetes' rule for `command` and `args`: command replaces the ENTRYPOINT and drops the
 * image's CMD (an empty Cmd, as before args existed); args replace the CMD and keep the
 * ENTRYPOINT; neither runs the image as built.
 */
export function processOptions(
  spec: Pick<ContainerSpec, 'command' | 'args'>,
): Pick<ContainerCreateOptions, 'Entrypoint' | 'Cmd'> {
  if (spec.command) return { Entrypoint: spec.command, Cmd: spec.args ?? [] };
  if (spec.args) return { Cmd: spec.args };
  return {};
}
