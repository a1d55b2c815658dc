import { isKind } from '../../model/types.js';
import { isContainerRole, LABELS, type OwnerRef } from '../labels.js';
import type { ContainerState, ManagedContainer } from '../runtime.js';
import { LEASE_LABELS } from './service-spec.js';

// How a Swarm service and its tasks look to the controller: one ManagedContainer per
// service, its state that of its newest task. Pure.

/** The parts of a service Luma reads. */
export interface ServiceInfo {
  ID: string;
  CreatedAt?: string;
  Spec?: {
    Name?: string;
    Labels?: Record<string, string>;
    Mode?: { Replicated?: { Replicas?: number } };
    TaskTemplate?: { ContainerSpec?: { Image?: string } };
  };
}

/** The parts of a task Luma reads. */
export interface TaskInfo {
  ID: string;
  ServiceID?: string;
  NodeID?: string;
  CreatedAt?: string;
  DesiredState?: string;
  Status?: {
    State?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
    PortStatus?: { Ports?: Array<{ TargetPort?: number; PublishedPort?: number }> };
  };
}

/** Task states before `running`: the task is on its way up. */
const STARTING = new Set(['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting']);

export function replicasOf(service: ServiceInfo): number {
  return service.Spec?.Mode?.Replicated?.Replicas ?? 0;
}

/** The task that says how the service runs: the newest meant to run, else the newest. */
export function currentTask(tasks: readonly TaskInfo[]): TaskInfo | undefined {
  const newestFirst = [...tasks].sort((a, b) => Date.parse(b.CreatedAt ?? '') - Date.parse(a.CreatedAt ?? ''));
  return newestFirst.find((task) => task.DesiredState === 'running') ?? newestFirst[0];
}

export function ownerOfService(labels: Record<string, string>): OwnerRef | undefined {
  const leaseName = labels[LEASE_LABELS.name];
  const leaseUid = labels[LEASE_LABELS.uid];
  if (leaseName && leaseUid) return { kind: 'Lease', name: leaseName, uid: leaseUid };
  const kind = labels[LABELS.kind];
  const name = labels[LABELS.name];
  const uid = labels[LABELS.uid];
  if (!isKind(kind) || !name || !uid) return undefined;
  return { kind, name, uid };
}

function stateOf(replicas: number, task: TaskInfo | undefined): ContainerState {
  // Scaled to zero: stopped, whatever its last task is still doing on its way down.
  if (replicas === 0) return 'exited';
  const state = task?.Status?.State ?? 'pending';
  if (state === 'running' && task?.DesiredState === 'running') return 'running';
  if (STARTING.has(state)) return 'restarting';
  return 'exited';
}

function publishedPort(task: TaskInfo | undefined, appPort: number): number | undefined {
  return task?.Status?.PortStatus?.Ports?.find((port) => port.TargetPort === appPort)?.PublishedPort;
}

/** The image without the digest Swarm pins it to (`ref@sha256:…`). */
function imageOf(service: ServiceInfo): string {
  return (service.Spec?.TaskTemplate?.ContainerSpec?.Image ?? '').replace(/@sha256:[0-9a-f]+$/, '');
}

/** Undefined for a service that is not a Luma instance of this installation. */
export function viewOf(
  service: ServiceInfo,
  tasks: readonly TaskInfo[],
  nodeAddress: (nodeId: string) => string | undefined,
): ManagedContainer | undefined {
  const labels = service.Spec?.Labels ?? {};
  const owner = ownerOfService(labels);
  if (!owner) return undefined;
  const appPort = Number(labels[LABELS.port] ?? 0);
  const task = currentTask(tasks);
  const replicas = replicasOf(service);
  const state = stateOf(replicas, task);
  const port = state === 'running' ? publishedPort(task, appPort) : undefined;
  const address = task?.NodeID ? nodeAddress(task.NodeID) : undefined;
  const exitCode = replicas > 0 && state === 'exited' ? task?.Status?.ContainerStatus?.ExitCode : undefined;
  const role = labels[LABELS.role];
  const memory = Number(labels[LABELS.memory]);
  return {
    id: service.ID,
    name: service.Spec?.Name ?? service.ID,
    owner,
    role: owner.kind === 'Lease' ? 'lease' : isContainerRole(role) ? role : 'instance',
    ...(owner.kind === 'Lease' && role === 'pool' ? { claimedFromPool: true } : {}),
    specHash: labels[LABELS.specHash] ?? '',
    state,
    ...(port !== undefined && address ? { hostPort: port, hostAddress: address } : {}),
    appPort,
    image: imageOf(service),
    createdAt: new Date(service.CreatedAt ?? 0),
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(Number.isSafeInteger(memory) && memory > 0 ? { memoryBytes: memory } : {}),
  };
}
