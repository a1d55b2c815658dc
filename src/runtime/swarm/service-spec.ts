import { randomBytes } from 'node:crypto';
import { containerCapabilities } from '../../model/capabilities.js';
import { shortHash } from '../../util/hash.js';
import { CONTAINER_PID_LIMIT, processOptions } from '../container-options.js';
import { LABEL_PREFIX, LABELS, ownerLabels, type OwnerRef } from '../labels.js';
import type { ContainerSpec } from '../runtime.js';

// What Swarm is asked for when Luma creates an instance: one replicated service per
// instance, pool or lease container, created with 0 replicas (stopped) and scaled to 1 to
// run. Pure, so that every choice can be read in one place and tested without an engine.
// The hardening of container-options.ts carries over where Swarm has the field (init,
// capabilities, pid limit); docs/cluster.md lists what it lacks.

/** Swarm service names are DNS labels: letters, digits and dashes, at most 63 characters. */
const MAX_SERVICE_NAME = 63;
const NANOS_PER_SECOND = 1_000_000_000;

/** Labels a claim adds to a pool service: a service cannot be renamed, but its labels can change. */
export const LEASE_LABELS = {
  name: `${LABEL_PREFIX}lease-name`,
  uid: `${LABEL_PREFIX}lease-uid`,
} as const;

export interface ServiceSpecRequest {
  instance: string;
  spec: ContainerSpec;
  /** The image as every node pulls it (a registry reference when a registry is configured). */
  image: string;
  /** How long a task gets after SIGTERM before SIGKILL (`docker stop -t`). */
  stopGraceSeconds: number;
}

/** Swarm's ServiceSpec, as much of it as Luma sets (dockerode's types lack a few 1.41 fields). */
export interface LumaServiceSpec {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Labels: Record<string, string>;
      Env: string[];
      Command?: string[];
      Args?: string[];
      Init: boolean;
      StopGracePeriod: number;
      CapabilityDrop: string[];
      CapabilityAdd: string[];
    };
    Resources: { Limits: { NanoCPUs?: number; MemoryBytes?: number; Pids: number } };
    RestartPolicy: { Condition: 'none' };
    ForceUpdate?: number;
  };
  Mode: { Replicated: { Replicas: number } };
  EndpointSpec: {
    Mode: 'dnsrr';
    Ports: Array<{ Protocol: 'tcp'; TargetPort: number; PublishMode: 'host' }>;
  };
}

function sanitize(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-');
}

/**
 * An instance's service: `luma-INSTANCE-PROJECT-RANDOM`, shortened to fit. A lease's own
 * service is named from the lease's uid, so that Swarm's unique names refuse a second one
 * for the same lease (what the Docker runtime gets from its container names).
 */
export function serviceName(instance: string, owner: OwnerRef, role: ContainerSpec['role']): string {
  if (role === 'lease') return `luma-lease-${shortHash({ instance, uid: owner.uid }, 16)}`;
  const suffix = randomBytes(3).toString('hex');
  const head = `luma-${sanitize(instance)}-${sanitize(owner.name)}`.slice(0, MAX_SERVICE_NAME - suffix.length - 1);
  return `${head.replace(/-+$/, '')}-${suffix}`;
}

export function serviceSpec({ instance, spec, image, stopGraceSeconds }: ServiceSpecRequest): LumaServiceSpec {
  const role = spec.role ?? 'instance';
  const labels = {
    ...ownerLabels(instance, spec.owner, spec.specHash, spec.port, role),
    ...(spec.memoryBytes ? { [LABELS.memory]: String(spec.memoryBytes) } : {}),
  };
  return {
    Name: serviceName(instance, spec.owner, role),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        // On the task's container too: engine events for it carry the owner.
        Labels: labels,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        // Swarm's Command is the ENTRYPOINT and its Args the CMD: Kubernetes' command and args.
        ...swarmProcess(spec),
        // An init process forwards SIGTERM: a stop does not wait out the grace period.
        Init: true,
        StopGracePeriod: stopGraceSeconds * NANOS_PER_SECOND,
        CapabilityDrop: ['ALL'],
        CapabilityAdd: spec.capabilities ? [...spec.capabilities] : containerCapabilities(),
      },
      Resources: {
        Limits: {
          ...(spec.cpuMillis ? { NanoCPUs: spec.cpuMillis * 1_000_000 } : {}),
          ...(spec.memoryBytes ? { MemoryBytes: spec.memoryBytes } : {}),
          Pids: CONTAINER_PID_LIMIT,
        },
      },
      // As `RestartPolicy: no` on one host: a crashed task stays failed for the controller to see.
      RestartPolicy: { Condition: 'none' },
    },
    Mode: { Replicated: { Replicas: 0 } },
    // Host mode: each task answers on its own node's address. The ingress mesh and VIPs
    // need IPVS, which not every kernel has, and Luma's proxy routes to tasks itself.
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: spec.port, PublishMode: 'host' }] },
  };
}

/** Kubernetes' rule, as processOptions (container-options.ts) applies it to a container. */
function swarmProcess(spec: Pick<ContainerSpec, 'command' | 'args'>): { Command?: string[]; Args?: string[] } {
  const { Entrypoint, Cmd } = processOptions(spec);
  return {
    ...(Entrypoint ? { Command: Entrypoint as string[] } : {}),
    ...(Cmd ? { Args: Cmd as string[] } : {}),
  };
}
