import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import { isKind } from '../model/types.js';
import { containerCreateOptions } from './container-options.js';
import { decodedLogStream, dockerSince } from './docker-log-stream.js';
import { ensureIsolatedNetwork, isMissingNetworkError } from './docker-network.js';
import { DockerUnavailableError, dockerStatusCode, isUnreachableError } from './errors.js';
import { followEngineEvents } from './event-stream.js';
import { errorMessage } from '../util/error-message.js';
import { isContainerRole, LABELS, leaseContainerName, leaseFromContainerName, type OwnerRef } from './labels.js';
import { traceWake } from '../util/wake-trace.js';
import {
  BuildCancelledError,
  BuildFailedError,
  PullFailedError,
  type BuildRequest,
  type ContainerLogOptions,
  type ContainerLogStream,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerSpec,
  type ContainerState,
  type ImageInfo,
  type ImageRuntime,
  type ManagedContainer,
  type ResourceLimits,
} from './runtime.js';

// The Docker driver: the only module in Luma that imports dockerode.

/** Events after which a container's owner must be looked at again. */
const WATCHED_ACTIONS = ['start', 'die', 'stop', 'kill', 'oom', 'destroy', 'pause', 'unpause', 'rename'] as const;
const KNOWN_STATES: ReadonlySet<string> = new Set([
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
]);

export interface DockerRuntimeOptions {
  /** Names this installation (or test run); only containers carrying it are seen. */
  instance: string;
  docker?: Docker;
}

export class DockerRuntime implements ContainerRuntime, ImageRuntime {
  private readonly docker: Docker;
  private readonly instance: string;
  private networkLookup: Promise<string> | undefined;
  readonly endpoint: string;

  constructor(options: DockerRuntimeOptions) {
    this.docker = options.docker ?? new Docker();
    this.instance = options.instance;
    this.endpoint = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  }

  async ping(): Promise<void> {
    await this.call(() => this.docker.ping());
  }

  async list(filter: ContainerFilter = {}): Promise<ManagedContainer[]> {
    const labels = [`${LABELS.managed}=true`, `${LABELS.instance}=${this.instance}`];
    // A claimed pool container keeps its project's labels: only a project's own name
    // narrows the query in Docker; everything else is sorted out from the owner below.
    if (filter.kind === 'Project' && filter.name) labels.push(`${LABELS.name}=${filter.name}`);
    if (filter.kind === 'Image' && filter.name) labels.push(`${LABELS.kind}=Image`, `${LABELS.name}=${filter.name}`);
    const infos = await this.call(() => this.docker.listContainers({ all: true, filters: { label: labels } }));
    const result: ManagedContainer[] = [];
    for (const info of infos) {
      const container = fromListInfo(info, this.instance);
      if (!container) continue;
      if (filter.kind && container.owner.kind !== filter.kind) continue;
      if (filter.name && container.owner.name !== filter.name) continue;
      if (filter.role && container.role !== filter.role) continue;
      result.push(container);
    }
    return result;
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.call(() => this.docker.getImage(ref).inspect());
      return true;
    } catch (error) {
      if (dockerStatusCode(error) === 404) return false;
      throw error;
    }
  }

  async create(spec: ContainerSpec): Promise<ManagedContainer> {
    const role = spec.role ?? 'instance';
    const name =
      role === 'lease'
        ? leaseContainerName(this.instance, spec.owner)
        : `luma-${sanitize(this.instance)}-${spec.owner.name}-${randomBytes(3).toString('hex')}`;
    const container = await this.createOn(await this.network(), name, spec);
    const created = await this.inspect(container.id);
    if (!created) throw new Error(`container ${name} vanished right after it was created`);
    return created;
  }

  private createOn(network: string, name: string, spec: ContainerSpec): Promise<Docker.Container> {
    return this.call(() =>
      this.docker.createContainer(containerCreateOptions({ instance: this.instance, name, network, spec })),
    );
  }

  /**
   * The installation's isolated network, looked up before every create (one engine call):
   * Docker accepts a container on a network that was removed meanwhile and only fails its
   * start. Creates at the same moment share one look-up.
   */
  private network(): Promise<string> {
    this.networkLookup ??= ensureIsolatedNetwork(this.docker, this.instance, (operation) =>
      this.call(operation),
    ).finally(() => {
      this.networkLookup = undefined;
    });
    return this.networkLookup;
  }

  async start(id: string): Promise<ManagedContainer> {
    try {
      await this.call(() => this.docker.getContainer(id).start());
    } catch (error) {
      // 304: already running, which is what we wanted.
      if (dockerStatusCode(error) === 304) return this.started(id);
      // Its network was removed by hand while it was stopped: it can never start again.
      if (isMissingNetworkError(error)) await this.remove(id);
      throw error;
    }
    return this.started(id);
  }

  private async started(id: string): Promise<ManagedContainer> {
    const started = await this.inspect(id);
    if (!started) throw new Error(`container ${id.slice(0, 12)} vanished while it was being started`);
    return started;
  }

  async pause(id: string): Promise<void> {
    await this.call(() => this.docker.getContainer(id).pause());
  }

  async unpause(id: string): Promise<void> {
    try {
      await this.call(() => this.docker.getContainer(id).unpause());
    } catch (error) {
      // "is not paused" (409 on newer engines, 500 on 20.10): already thawed, which is what we wanted.
      if (!/is not paused/.test(errorMessage(error))) throw error;
    }
  }

  async resume(id: string): Promise<boolean> {
    // One Engine API round trip (POST /containers/ID/unpause); no inspect first: the
    // engine's answer says whether the container was paused.
    try {
      traceWake('runtime-unpause-call', id);
      await this.call(() => this.docker.getContainer(id).unpause());
      traceWake('runtime-unpause-answered', id);
      return true;
    } catch (error) {
      if (dockerStatusCode(error) === 404 || /is not paused/.test(errorMessage(error))) return false;
      throw error;
    }
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    // Docker refuses to stop a paused container; thaw it so it can receive SIGTERM.
    await this.unpause(id).catch((error: unknown) => {
      if (dockerStatusCode(error) !== 404) throw error;
    });
    try {
      await this.call(() => this.docker.getContainer(id).stop({ t: timeoutSeconds }));
    } catch (error) {
      const status = dockerStatusCode(error);
      if (status !== 304 && status !== 404) throw error;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.call(() => this.docker.getContainer(id).remove({ force: true }));
    } catch (error) {
      const status = dockerStatusCode(error);
      // 404: already gone; 409: a removal is already in progress.
      if (status !== 404 && status !== 409) throw error;
    }
  }

  async claim(container: ManagedContainer, lease: OwnerRef): Promise<ManagedContainer> {
    const name = leaseContainerName(this.instance, lease);
    // One engine call: everything else about the container is as it was.
    await this.call(() => this.docker.getContainer(container.id).rename({ name }));
    return { ...container, name, owner: { ...lease }, role: 'lease', claimedFromPool: true };
  }

  async updateLimits(id: string, limits: ResourceLimits): Promise<void> {
    // Swap equal to memory: no swap, as at create. Both move together so that lowering or
    // raising the limit never leaves memory above swap for an instant.
    await this.call(() =>
      this.docker
        .getContainer(id)
        .update({ NanoCpus: limits.cpuMillis * 1_000_000, Memory: limits.memoryBytes, MemorySwap: limits.memoryBytes }),
    );
  }

  async inspect(id: string): Promise<ManagedContainer | undefined> {
    try {
      const info = await this.call(() => this.docker.getContainer(id).inspect());
      return fromInspectInfo(info, this.instance);
    } catch (error) {
      if (dockerStatusCode(error) === 404) return undefined;
      throw error;
    }
  }

  async logs(id: string, options: ContainerLogOptions): Promise<ContainerLogStream | undefined> {
    const container = this.docker.getContainer(id);
    const query = {
      stdout: true,
      stderr: true,
      timestamps: true,
      ...(options.tail !== undefined ? { tail: options.tail } : {}),
      ...(options.since !== undefined ? { since: dockerSince(options.since) } : {}),
    };
    try {
      if (options.follow) {
        const stream = await this.call(() => container.logs({ ...query, follow: true }));
        return decodedLogStream(stream as NodeJS.ReadableStream & { destroy(): void });
      }
      // Without follow, dockerode reads the whole answer into one buffer.
      const buffer = await this.call(() => container.logs({ ...query, follow: false }));
      return decodedLogStream(Readable.from([buffer]));
    } catch (error) {
      if (dockerStatusCode(error) === 404) return undefined;
      throw error;
    }
  }

  watchChanges(onChange: (owner: OwnerRef, action: string) => void): () => void {
    const filters = {
      type: ['container' as const],
      event: [...WATCHED_ACTIONS],
      label: [`${LABELS.managed}=true`, `${LABELS.instance}=${this.instance}`],
    };
    return followEngineEvents(this.docker, filters, (line) => {
      const event = parseEvent(line, this.instance);
      if (event) onChange(event.owner, event.action);
    });
  }

  async build(request: BuildRequest, onOutput: (text: string) => void, signal?: AbortSignal): Promise<void> {
    // Closing the request is what stops a classic build: the engine cancels the step that
    // runs (a RUN's container is killed and, with forcerm, removed) and tags nothing.
    const cancelled = (): boolean => {
      if (signal?.aborted) request.context.destroy();
      return signal?.aborted ?? false;
    };
    let failure: string | undefined;
    try {
      const output = await this.call(() =>
        this.docker.buildImage(request.context, {
          t: request.tag,
          dockerfile: request.dockerfile,
          buildargs: request.args,
          labels: { ...request.labels, [LABELS.instance]: this.instance },
          rm: true,
          forcerm: true,
          ...(signal ? { abortSignal: signal } : {}),
        }),
      );
      failure = await this.followBuild(output, onOutput);
    } catch (error) {
      if (cancelled()) throw new BuildCancelledError(request.tag);
      throw error;
    }
    if (cancelled()) throw new BuildCancelledError(request.tag);
    if (failure) throw new BuildFailedError(failure);
    // An old engine may end the stream "successfully" after an error event; trust only the tag.
    if (!(await this.imageExists(request.tag)))
      throw new BuildFailedError('the build ended without producing the image');
  }

  /** Build failures arrive in-band, as an `error` event in the output stream: its text, if any. */
  private followBuild(output: NodeJS.ReadableStream, onOutput: (text: string) => void): Promise<string | undefined> {
    let failure: string | undefined;
    return new Promise((resolve, reject) => {
      this.docker.modem.followProgress(
        output,
        (error: Error | null) => (error ? reject(error) : resolve(failure)),
        (event: { stream?: string; error?: string; status?: string }) => {
          if (event.stream) onOutput(event.stream);
          if (event.status) onOutput(`${event.status}\n`);
          if (event.error) {
            failure = event.error.trim();
            onOutput(`ERROR: ${failure}\n`);
          }
        },
      );
    });
  }

  async pull(ref: string, onOutput: (text: string) => void): Promise<void> {
    let output: NodeJS.ReadableStream;
    try {
      output = await this.call(() => this.docker.pull(ref) as Promise<NodeJS.ReadableStream>);
    } catch (error) {
      if (error instanceof DockerUnavailableError) throw error;
      throw new PullFailedError(
        `cannot pull ${ref}: ${errorMessage(error)
          .replace(/^\(HTTP code \d+\) [a-z ]+ - /, '')
          .trim()} (no registry is reachable from this machine, or the image does not exist there)`,
      );
    }
    let failure: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        output,
        (error: Error | null) =>
          error ? reject(new PullFailedError(`cannot pull ${ref}: ${error.message}`)) : resolve(),
        (event: { status?: string; progress?: string; id?: string; error?: string }) => {
          if (event.error) failure = event.error;
          onOutput(
            `${event.id ? `${event.id}: ` : ''}${event.error ?? event.status ?? ''} ${event.progress ?? ''}`.trimEnd() +
              '\n',
          );
        },
      );
    });
    if (failure) throw new PullFailedError(`cannot pull ${ref}: ${failure}`);
  }

  async listBuilt(imageName: string): Promise<ImageInfo[]> {
    const images = await this.call(() =>
      this.docker.listImages({
        filters: {
          label: [`${LABELS.instance}=${this.instance}`, `${LABELS.kind}=Image`, `${LABELS.name}=${imageName}`],
        },
      }),
    );
    return images
      .map((image) => ({ id: image.Id, tags: image.RepoTags ?? [], createdAt: new Date(image.Created * 1000) }))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  async removeImage(ref: string): Promise<void> {
    try {
      await this.call(() => this.docker.getImage(ref).remove());
    } catch (error) {
      const status = dockerStatusCode(error);
      // 404: gone already; 409: a container still uses it, so it stays for now.
      if (status !== 404 && status !== 409) throw error;
    }
  }

  /** Turns "cannot connect" failures into one error type with advice. */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isUnreachableError(error)) throw new DockerUnavailableError(this.endpoint, errorMessage(error));
      throw error;
    }
  }
}

function parseEvent(line: string, instance: string): { owner: OwnerRef; action: string } | undefined {
  if (!line) return undefined;
  try {
    const event = JSON.parse(line) as { Action?: string; Actor?: { Attributes?: Record<string, string> } };
    const attributes = event.Actor?.Attributes ?? {};
    const owner = ownerFrom(attributes, attributes.name ?? '', instance);
    return owner && event.Action ? { owner, action: event.Action } : undefined;
  } catch {
    return undefined;
  }
}

function sanitize(value: string): string {
  return value.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

function toState(raw: string): ContainerState {
  return (KNOWN_STATES.has(raw) ? raw : 'dead') as ContainerState;
}

function ownerFrom(
  labels: Record<string, string>,
  containerName: string,
  instance: string,
): ManagedContainer['owner'] | undefined {
  const lease = leaseFromContainerName(instance, containerName);
  if (lease) return lease;
  const kind = labels[LABELS.kind];
  const name = labels[LABELS.name];
  const uid = labels[LABELS.uid];
  if (!isKind(kind) || !name || !uid) return undefined;
  return { kind, name, uid };
}

function roleOf(labels: Record<string, string>, owner: OwnerRef): ManagedContainer['role'] {
  if (owner.kind === 'Lease') return 'lease';
  const role = labels[LABELS.role];
  return isContainerRole(role) ? role : 'instance';
}

function fromListInfo(info: ContainerInfo, instance: string): ManagedContainer | undefined {
  const name = (info.Names[0] ?? info.Id).replace(/^\//, '');
  const owner = ownerFrom(info.Labels, name, instance);
  if (!owner) return undefined;
  const appPort = Number(info.Labels[LABELS.port] ?? 0);
  const binding = info.Ports.find((port) => port.PrivatePort === appPort && port.IP === '127.0.0.1' && port.PublicPort);
  return {
    id: info.Id,
    name,
    owner,
    role: roleOf(info.Labels, owner),
    ...(owner.kind === 'Lease' && info.Labels[LABELS.role] === 'pool' ? { claimedFromPool: true } : {}),
    specHash: info.Labels[LABELS.specHash] ?? '',
    state: toState(info.State),
    ...(binding ? { hostPort: binding.PublicPort } : {}),
    appPort,
    image: info.Image,
    createdAt: new Date(info.Created * 1000),
    ...exitCodeFromStatus(info.State, info.Status),
    ...memoryFromLabels(info.Labels),
    ...revisionFromLabels(info.Labels),
  };
}

function fromInspectInfo(info: ContainerInspectInfo, instance: string): ManagedContainer | undefined {
  const labels = info.Config.Labels ?? {};
  const owner = ownerFrom(labels, info.Name, instance);
  if (!owner) return undefined;
  const appPort = Number(labels[LABELS.port] ?? 0);
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = info.NetworkSettings.Ports ?? {};
  const binding = (bindings[`${appPort}/tcp`] ?? []).find((entry) => entry.HostIp === '127.0.0.1' && entry.HostPort);
  const state: ContainerState = info.State.Paused ? 'paused' : toState(info.State.Status);
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    owner,
    role: roleOf(labels, owner),
    ...(owner.kind === 'Lease' && labels[LABELS.role] === 'pool' ? { claimedFromPool: true } : {}),
    specHash: labels[LABELS.specHash] ?? '',
    state,
    ...(binding && state !== 'exited' && state !== 'created' ? { hostPort: Number(binding.HostPort) } : {}),
    appPort,
    image: info.Config.Image,
    createdAt: new Date(info.Created),
    ...(state === 'exited' ? { exitCode: info.State.ExitCode } : {}),
    ...memoryFromLabels(labels),
    ...revisionFromLabels(labels),
  };
}

function memoryFromLabels(labels: Record<string, string>): { memoryBytes?: number } {
  const bytes = Number(labels[LABELS.memory]);
  return Number.isSafeInteger(bytes) && bytes > 0 ? { memoryBytes: bytes } : {};
}

function revisionFromLabels(labels: Record<string, string>): { revision?: string } {
  const revision = labels[LABELS.revision];
  return revision ? { revision } : {};
}

/** A listing has no exit code field, only Docker's words: "Exited (3) 2 seconds ago". */
function exitCodeFromStatus(state: string, status: string): { exitCode?: number } {
  if (state !== 'exited') return {};
  const match = /^Exited \((-?\d+)\)/.exec(status);
  return match ? { exitCode: Number(match[1]) } : {};
}
