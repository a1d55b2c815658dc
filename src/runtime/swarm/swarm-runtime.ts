import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { errorMessage } from '../../util/error-message.js';
import { decodedLogStream, dockerSince } from '../docker-log-stream.js';
import { DockerRuntime } from '../docker-runtime.js';
import { DockerUnavailableError, dockerStatusCode, isUnreachableError } from '../errors.js';
import { LABEL_PREFIX, LABELS, type OwnerRef } from '../labels.js';
import type {
  BuildRequest,
  ContainerFilter,
  ContainerLogOptions,
  ContainerLogStream,
  ContainerRuntime,
  ContainerSpec,
  ImageInfo,
  ImageRuntime,
  ManagedContainer,
  ResourceLimits,
} from '../runtime.js';
import { RegistryImages } from './registry-images.js';
import { LEASE_LABELS, serviceSpec } from './service-spec.js';
import { currentTask, ownerOfService, replicasOf, viewOf, type ServiceInfo, type TaskInfo } from './service-view.js';
import { watchSwarmChanges } from './swarm-events.js';

// The Swarm driver: each instance, pool or lease container is a replicated service with
// Luma's labels; 0 replicas is stopped, 1 is running. The controller sees the same
// ManagedContainer as from the Docker driver, with the task's node address in
// hostAddress. Swarm cannot freeze a task: pause scales to zero and marks the service
// paused, so that a resume is a (fast) start. docs/cluster.md has the whole mapping.

/** Marks a service scaled to zero by pause(), for resume() and for the state it is listed in. */
const PAUSED_LABEL = `${LABEL_PREFIX}paused`;
const POLL_MS = 20;
const START_TIMEOUT_MS = 120_000;
/** How long a scale-up may show no task before the service is touched again. */
const NUDGE_AFTER_MS = 1_000;
const UPDATE_ATTEMPTS = 5;
/** How long a stopped task may hold its slot before a start goes ahead anyway (and nudges). */
const SLOT_RELEASE_MS = 5_000;
/** After the grace period, how long a stop may take to be seen done before it is left to Swarm. */
const STOP_SLACK_MS = 10_000;
const TERMINAL = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

export interface SwarmRuntimeOptions {
  instance: string;
  docker?: Docker;
  /** HOST:PORT of the registry every node pulls from; see RegistryImages. */
  registry?: string;
  /** A task's time between SIGTERM and SIGKILL, fixed when its service is made (default 10). */
  stopGraceSeconds?: number;
}

type RawService = ServiceInfo & { Version?: { Index?: number }; Spec?: ServiceInfo['Spec'] & Record<string, unknown> };

export class SwarmRuntime implements ContainerRuntime, ImageRuntime {
  readonly endpoint: string;
  readonly images: RegistryImages;
  private readonly docker: Docker;
  private readonly instance: string;
  private readonly stopGraceSeconds: number;
  private nodeAddresses = new Map<string, string>();
  /** Owners of the services seen, for events about a service that is already gone. */
  private readonly owners = new Map<string, OwnerRef>();

  constructor(options: SwarmRuntimeOptions) {
    this.docker = options.docker ?? new Docker();
    this.instance = options.instance;
    this.stopGraceSeconds = options.stopGraceSeconds ?? 10;
    this.endpoint = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
    const local = new DockerRuntime({ instance: options.instance, docker: this.docker });
    this.images = new RegistryImages(this.docker, local, options.registry);
  }

  async ping(): Promise<void> {
    await this.call(() => this.docker.ping());
  }

  async list(filter: ContainerFilter = {}): Promise<ManagedContainer[]> {
    const labels = [`${LABELS.managed}=true`, `${LABELS.instance}=${this.instance}`];
    const services = (await this.call(() =>
      this.docker.listServices({ filters: { label: labels } }),
    )) as unknown as RawService[];
    if (services.length === 0) return [];
    const tasks = (await this.call(() =>
      this.docker.listTasks({ filters: { service: services.map((service) => service.ID) } }),
    )) as TaskInfo[];
    const views = await Promise.all(
      services.map((service) =>
        this.view(
          service,
          tasks.filter((task) => task.ServiceID === service.ID),
        ),
      ),
    );
    return views.filter((view): view is ManagedContainer => {
      if (!view) return false;
      if (filter.kind && view.owner.kind !== filter.kind) return false;
      if (filter.name && view.owner.name !== filter.name) return false;
      return !filter.role || view.role === filter.role;
    });
  }

  imageExists(ref: string): Promise<boolean> {
    return this.images.imageExists(ref);
  }

  async create(spec: ContainerSpec): Promise<ManagedContainer> {
    const image = await this.images.distribute(spec.image);
    const request = serviceSpec({ instance: this.instance, spec, image, stopGraceSeconds: this.stopGraceSeconds });
    const created = (await this.call(() =>
      this.docker.createService(request as unknown as Docker.CreateServiceOptions),
    )) as { ID?: string; id?: string };
    const id = created.ID ?? created.id ?? '';
    const view = await this.inspect(id);
    if (!view) throw new Error(`service ${request.Name} vanished right after it was created`);
    return view;
  }

  async start(id: string): Promise<ManagedContainer> {
    const service = await this.rawService(id);
    if (!service) throw new Error(`service ${id} no longer exists`);
    const tasks = await this.tasksOf(id);
    const current = currentTask(tasks);
    const replicas = replicasOf(service);
    if (replicas > 0 && current?.Status?.State === 'running' && current.DesiredState === 'running')
      return this.requireView(service, tasks);
    // A task stopped a moment ago holds its slot until Swarm deletes it, and a scale-up
    // meanwhile makes no new task: wait for that first (usually it is long gone).
    if (replicas === 0 && tasks.some((task) => task.DesiredState === 'remove'))
      await this.waitForTasks(id, SLOT_RELEASE_MS, (task) => task.DesiredState === 'remove');
    const before = new Set(tasks.map((task) => task.ID));
    await this.update((await this.rawService(id)) ?? service, (spec) => {
      setReplicas(spec, 1);
      delete labelsOf(spec)[PAUSED_LABEL];
      // A task that ended (crashed) is replaced only when the template is forced to change.
      if (replicas > 0) bumpForceUpdate(spec);
    });
    return this.waitForNewTask(id, before);
  }

  /** Polls until a task that did not exist before runs with its port published, or has ended. */
  private async waitForNewTask(id: string, before: ReadonlySet<string>): Promise<ManagedContainer> {
    const startedAt = Date.now();
    let nudged = false;
    for (;;) {
      const service = await this.rawService(id);
      if (!service) throw new Error(`service ${id} vanished while it was being started`);
      const fresh = (await this.tasksOf(id)).filter((task) => !before.has(task.ID));
      const task = currentTask(fresh);
      // A scale-up while a stopped task still held its slot (stopped by hand, say) makes no
      // task; the orchestrator looks again at the next change of the service.
      if (!task && !nudged && Date.now() - startedAt > NUDGE_AFTER_MS) {
        nudged = true;
        await this.update(service, bumpForceUpdate);
      }
      const state = task?.Status?.State ?? '';
      if ((state === 'running' && task?.Status?.PortStatus?.Ports?.length) || TERMINAL.has(state))
        return this.requireView(service, fresh);
      if (Date.now() > startedAt + START_TIMEOUT_MS)
        throw new Error(
          `service ${service.Spec?.Name ?? id} has no running task after ${START_TIMEOUT_MS / 1000}s (task ${state || 'not scheduled'}${task?.Status?.Err ? `: ${task.Status.Err}` : ''})`,
        );
      await delay(POLL_MS);
    }
  }

  async stop(id: string, _timeoutSeconds: number): Promise<void> {
    await this.scaleToZero(id, false);
  }

  /** Swarm cannot freeze a task: it stops, and the service says it was paused (see the file's head). */
  async pause(id: string): Promise<void> {
    await this.scaleToZero(id, true);
  }

  async unpause(id: string): Promise<void> {
    await this.resume(id);
  }

  async resume(id: string): Promise<boolean> {
    const service = await this.rawService(id);
    if (!service || labelsOf(service.Spec ?? {})[PAUSED_LABEL] !== 'true') return false;
    await this.start(id);
    return true;
  }

  private async scaleToZero(id: string, paused: boolean): Promise<void> {
    const service = await this.rawService(id);
    if (!service) return;
    const wasPaused = labelsOf(service.Spec ?? {})[PAUSED_LABEL] === 'true';
    if (replicasOf(service) > 0 || wasPaused !== paused)
      await this.update(service, (spec) => {
        setReplicas(spec, 0);
        if (paused) labelsOf(spec)[PAUSED_LABEL] = 'true';
        else delete labelsOf(spec)[PAUSED_LABEL];
      });
    // As `docker stop`: returns when the app has stopped.
    await this.waitForTasks(
      id,
      this.stopGraceSeconds * 1000 + STOP_SLACK_MS,
      (task) => task.Status?.State === 'running',
    );
  }

  /** Polls until no task of the service matches `busy`, or the time is up. */
  private async waitForTasks(id: string, timeoutMs: number, busy: (task: TaskInfo) => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!(await this.tasksOf(id)).some(busy)) return;
      await delay(POLL_MS);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.call(() => this.docker.getService(id).remove());
    } catch (error) {
      if (dockerStatusCode(error) !== 404) throw error;
    }
  }

  /** Labels, not a name: a service cannot be renamed. The update's version check refuses a second claim of the same service. */
  async claim(container: ManagedContainer, lease: OwnerRef): Promise<ManagedContainer> {
    const service = await this.rawService(container.id);
    if (!service) throw new Error(`pool service ${container.name} no longer exists`);
    await this.update(service, (spec) => {
      const claimedBy = labelsOf(spec)[LEASE_LABELS.uid];
      if (claimedBy && claimedBy !== lease.uid)
        throw new Error(`pool service ${container.name} was claimed by another lease meanwhile`);
      labelsOf(spec)[LEASE_LABELS.name] = lease.name;
      labelsOf(spec)[LEASE_LABELS.uid] = lease.uid;
    });
    this.owners.set(container.id, { ...lease });
    return { ...container, owner: { ...lease }, role: 'lease', claimedFromPool: true };
  }

  /**
   * In place on the task's container, as on one host, when the task runs on this
   * manager's node; a change of the service's template would replace the task instead.
   */
  async updateLimits(id: string, limits: ResourceLimits): Promise<void> {
    const task = currentTask(await this.tasksOf(id));
    const containerId = task?.Status?.ContainerStatus?.ContainerID;
    const info = (await this.call(() => this.docker.info())) as { Swarm?: { NodeID?: string } };
    if (!containerId || task?.NodeID !== info.Swarm?.NodeID)
      throw new Error(
        `service ${id} has no running task on this manager's node: Swarm cannot change its limits without restarting it`,
      );
    await this.call(() =>
      this.docker.getContainer(containerId).update({
        NanoCpus: limits.cpuMillis * 1_000_000,
        Memory: limits.memoryBytes,
        MemorySwap: limits.memoryBytes,
      }),
    );
  }

  async inspect(id: string): Promise<ManagedContainer | undefined> {
    const service = await this.rawService(id);
    if (!service) return undefined;
    return this.view(service, await this.tasksOf(id));
  }

  async logs(id: string, options: ContainerLogOptions): Promise<ContainerLogStream | undefined> {
    const query = {
      stdout: true,
      stderr: true,
      timestamps: true,
      ...(options.tail !== undefined ? { tail: options.tail } : {}),
      ...(options.since !== undefined ? { since: dockerSince(options.since) } : {}),
    };
    const service = this.docker.getService(id);
    try {
      if (options.follow) {
        const stream = await this.call(() => service.logs({ ...query, follow: true }));
        return decodedLogStream(stream as unknown as NodeJS.ReadableStream & { destroy(): void });
      }
      const buffer = (await this.call(() => service.logs({ ...query, follow: false }))) as unknown as Buffer;
      return decodedLogStream(Readable.from([buffer]));
    } catch (error) {
      if (dockerStatusCode(error) === 404) return undefined;
      throw error;
    }
  }

  watchChanges(onChange: (owner: OwnerRef, action: string) => void): () => void {
    const ownerOf = async (serviceId: string): Promise<OwnerRef | undefined> => {
      const service = await this.rawService(serviceId).catch(() => undefined);
      if (service && isOurs(service, this.instance)) this.remember(service);
      return this.owners.get(serviceId);
    };
    return watchSwarmChanges({ docker: this.docker, instance: this.instance, ownerOf }, onChange);
  }

  build(request: BuildRequest, onOutput: (text: string) => void, signal?: AbortSignal): Promise<void> {
    return this.images.build(request, onOutput, signal);
  }

  pull(ref: string, onOutput: (text: string) => void): Promise<void> {
    return this.images.pull(ref, onOutput);
  }

  listBuilt(imageName: string): Promise<ImageInfo[]> {
    return this.images.listBuilt(imageName);
  }

  removeImage(ref: string): Promise<void> {
    return this.images.removeImage(ref);
  }

  private remember(service: RawService): void {
    const owner = ownerOfService(service.Spec?.Labels ?? {});
    if (owner) this.owners.set(service.ID, owner);
  }

  private async view(service: RawService, tasks: TaskInfo[]): Promise<ManagedContainer | undefined> {
    if (!isOurs(service, this.instance)) return undefined;
    this.remember(service);
    const nodes = tasks.map((task) => task.NodeID).filter((node): node is string => !!node);
    if (nodes.some((node) => !this.nodeAddresses.has(node))) await this.refreshNodes();
    const view = viewOf(service, tasks, (node) => this.nodeAddresses.get(node));
    if (!view) return undefined;
    // Paused by Luma (stopped, see pause()): listed as paused, as a frozen container would be.
    return labelsOf(service.Spec ?? {})[PAUSED_LABEL] === 'true' && view.state === 'exited'
      ? { ...view, state: 'paused' }
      : view;
  }

  private async requireView(service: RawService, tasks: TaskInfo[]): Promise<ManagedContainer> {
    const view = await this.view(service, tasks);
    if (!view) throw new Error(`service ${service.ID} is not one of this installation's`);
    return view;
  }

  private async refreshNodes(): Promise<void> {
    const nodes = (await this.call(() => this.docker.listNodes())) as Array<{
      ID: string;
      Status?: { Addr?: string };
      ManagerStatus?: { Addr?: string };
    }>;
    this.nodeAddresses = new Map(nodes.map((node) => [node.ID, nodeAddress(node)]));
  }

  private async rawService(id: string): Promise<RawService | undefined> {
    try {
      return (await this.call(() => this.docker.getService(id).inspect())) as RawService;
    } catch (error) {
      if (dockerStatusCode(error) === 404) return undefined;
      throw error;
    }
  }

  private async tasksOf(id: string): Promise<TaskInfo[]> {
    return (await this.call(() => this.docker.listTasks({ filters: { service: [id] } }))) as TaskInfo[];
  }

  /**
   * A service update against the version read. Swarm refuses it when the service changed
   * meanwhile (it bumps the version itself right after a create): read again and apply
   * the change again, which may itself refuse on what it then finds.
   */
  private async update(service: RawService, change: (spec: Record<string, unknown>) => void): Promise<void> {
    let current: RawService | undefined = service;
    for (let attempt = 1; ; attempt++) {
      const spec = structuredClone(current.Spec ?? {}) as Record<string, unknown>;
      change(spec);
      const version = current.Version?.Index ?? 0;
      try {
        await this.call(() =>
          this.docker.getService(service.ID).update({ _query: { version }, _body: spec } as unknown as object),
        );
        return;
      } catch (error) {
        if (attempt >= UPDATE_ATTEMPTS || !/out of sequence/.test(errorMessage(error))) throw error;
      }
      current = await this.rawService(service.ID);
      if (!current) throw new Error(`service ${service.Spec?.Name ?? service.ID} no longer exists`);
    }
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isUnreachableError(error)) throw new DockerUnavailableError(this.endpoint, errorMessage(error));
      throw error;
    }
  }
}

function isOurs(service: RawService, instance: string): boolean {
  const labels = service.Spec?.Labels ?? {};
  return labels[LABELS.managed] === 'true' && labels[LABELS.instance] === instance;
}

function labelsOf(spec: Record<string, unknown>): Record<string, string> {
  spec.Labels ??= {};
  return spec.Labels as Record<string, string>;
}

function setReplicas(spec: Record<string, unknown>, replicas: number): void {
  spec.Mode = { Replicated: { Replicas: replicas } };
}

function bumpForceUpdate(spec: Record<string, unknown>): void {
  const template = (spec.TaskTemplate ??= {}) as { ForceUpdate?: number };
  template.ForceUpdate = (template.ForceUpdate ?? 0) + 1;
}

/** A node's address as tasks publish on it; a manager that reports 0.0.0.0 gives its advertised one. */
function nodeAddress(node: { Status?: { Addr?: string }; ManagerStatus?: { Addr?: string } }): string {
  const address = node.Status?.Addr;
  if (address && address !== '0.0.0.0') return address;
  return (node.ManagerStatus?.Addr ?? '127.0.0.1').replace(/:\d+$/, '');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
