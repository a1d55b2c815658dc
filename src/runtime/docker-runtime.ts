import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import { isKind } from '../model/types.js';
import { DockerUnavailableError, dockerStatusCode, errorMessage, isUnreachableError } from './errors.js';
import { LABELS, ownerLabels, type OwnerRef } from './labels.js';
import {
  BuildFailedError,
  PullFailedError,
  type BuildRequest,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerSpec,
  type ContainerState,
  type ImageInfo,
  type ImageRuntime,
  type ManagedContainer,
} from './runtime.js';

// The Docker driver: the only module in Luma that imports dockerode.

/** Bounds what one app can do to the host; issue-8 hardening builds on these. */
const CONTAINER_PID_LIMIT = 1024;
/** Events after which a container's owner must be looked at again. */
const WATCHED_ACTIONS = ['start', 'die', 'stop', 'kill', 'oom', 'destroy', 'pause', 'unpause'] as const;
const EVENTS_RECONNECT_MS = 1_000;
const KNOWN_STATES: ReadonlySet<string> = new Set(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

export interface DockerRuntimeOptions {
  /** Names this installation (or test run); only containers carrying it are seen. */
  instance: string;
  docker?: Docker;
}

export class DockerRuntime implements ContainerRuntime, ImageRuntime {
  private readonly docker: Docker;
  private readonly instance: string;
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
    if (filter.kind) labels.push(`${LABELS.kind}=${filter.kind}`);
    if (filter.name) labels.push(`${LABELS.name}=${filter.name}`);
    const infos = await this.call(() => this.docker.listContainers({ all: true, filters: { label: labels } }));
    const result: ManagedContainer[] = [];
    for (const info of infos) {
      const container = fromListInfo(info);
      if (container) result.push(container);
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
    const portKey = `${spec.port}/tcp`;
    const name = `luma-${sanitize(this.instance)}-${spec.owner.name}-${randomBytes(3).toString('hex')}`;
    const container = await this.call(() =>
      this.docker.createContainer({
        name,
        Image: spec.image,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        // As in Kubernetes and Cloud Run, `command` replaces the image's entrypoint.
        ...(spec.command ? { Entrypoint: spec.command, Cmd: [] } : {}),
        Labels: ownerLabels(this.instance, spec.owner, spec.specHash, spec.port),
        ExposedPorts: { [portKey]: {} },
        HostConfig: {
          // Docker picks a free port; binding to loopback keeps apps off the network.
          PortBindings: { [portKey]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
          // An init process forwards SIGTERM, so `docker stop` does not wait out its timeout.
          Init: true,
          SecurityOpt: ['no-new-privileges'],
          PidsLimit: CONTAINER_PID_LIMIT,
          RestartPolicy: { Name: 'no' },
          ...(spec.cpuMillis ? { NanoCpus: spec.cpuMillis * 1_000_000 } : {}),
          ...(spec.memoryBytes ? { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes } : {}),
        },
      }),
    );
    const created = await this.inspect(container.id);
    if (!created) throw new Error(`container ${name} vanished right after it was created`);
    return created;
  }

  async start(id: string): Promise<ManagedContainer> {
    try {
      await this.call(() => this.docker.getContainer(id).start());
    } catch (error) {
      // 304: already running, which is what we wanted.
      if (dockerStatusCode(error) !== 304) throw error;
    }
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
      await this.call(() => this.docker.getContainer(id).unpause());
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

  async inspect(id: string): Promise<ManagedContainer | undefined> {
    try {
      const info = await this.call(() => this.docker.getContainer(id).inspect());
      return fromInspectInfo(info);
    } catch (error) {
      if (dockerStatusCode(error) === 404) return undefined;
      throw error;
    }
  }

  watchChanges(onChange: (owner: OwnerRef, action: string) => void): () => void {
    let stopped = false;
    let stream: NodeJS.ReadableStream | undefined;
    let retry: NodeJS.Timeout | undefined;
    const connect = (): void => {
      if (stopped) return;
      this.docker.getEvents(
        { filters: { type: ['container'], event: [...WATCHED_ACTIONS], label: [`${LABELS.managed}=true`, `${LABELS.instance}=${this.instance}`] } },
        (error, events) => {
          if (stopped) {
            (events as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined)?.destroy?.();
            return;
          }
          if (error || !events) {
            retry = setTimeout(connect, EVENTS_RECONNECT_MS);
            return;
          }
          stream = events;
          let buffered = '';
          events.on('data', (chunk: Buffer) => {
            buffered += chunk.toString('utf8');
            let newline: number;
            while ((newline = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              const event = parseEvent(line);
              if (event) onChange(event.owner, event.action);
            }
          });
          const reconnect = (): void => {
            if (stream !== events || stopped) return;
            stream = undefined;
            retry = setTimeout(connect, EVENTS_RECONNECT_MS);
          };
          events.on('end', reconnect);
          events.on('error', reconnect);
        },
      );
    };
    connect();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      (stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined)?.destroy?.();
    };
  }

  async build(request: BuildRequest, onOutput: (text: string) => void): Promise<void> {
    const output = await this.call(() =>
      this.docker.buildImage(request.context, {
        t: request.tag,
        dockerfile: request.dockerfile,
        buildargs: request.args,
        labels: { ...request.labels, [LABELS.instance]: this.instance },
        rm: true,
        forcerm: true,
      }),
    );
    // Build failures arrive in-band, as an `error` event in the output stream.
    let failure: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        output,
        (error: Error | null) => (error ? reject(error) : resolve()),
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
    if (failure) throw new BuildFailedError(failure);
    // An old engine may end the stream "successfully" after an error event; trust only the tag.
    if (!(await this.imageExists(request.tag))) throw new BuildFailedError('the build ended without producing the image');
  }

  async pull(ref: string, onOutput: (text: string) => void): Promise<void> {
    let output: NodeJS.ReadableStream;
    try {
      output = await this.call(() => this.docker.pull(ref) as Promise<NodeJS.ReadableStream>);
    } catch (error) {
      if (error instanceof DockerUnavailableError) throw error;
      throw new PullFailedError(`cannot pull ${ref}: ${errorMessage(error).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim()} (no registry is reachable from this machine, or the image does not exist there)`);
    }
    let failure: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        output,
        (error: Error | null) => (error ? reject(new PullFailedError(`cannot pull ${ref}: ${error.message}`)) : resolve()),
        (event: { status?: string; progress?: string; id?: string; error?: string }) => {
          if (event.error) failure = event.error;
          onOutput(`${event.id ? `${event.id}: ` : ''}${event.error ?? event.status ?? ''} ${event.progress ?? ''}`.trimEnd() + '\n');
        },
      );
    });
    if (failure) throw new PullFailedError(`cannot pull ${ref}: ${failure}`);
  }

  async listBuilt(imageName: string): Promise<ImageInfo[]> {
    const images = await this.call(() =>
      this.docker.listImages({ filters: { label: [`${LABELS.instance}=${this.instance}`, `${LABELS.kind}=Image`, `${LABELS.name}=${imageName}`] } }),
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

function parseEvent(line: string): { owner: OwnerRef; action: string } | undefined {
  if (!line) return undefined;
  try {
    const event = JSON.parse(line) as { Action?: string; Actor?: { Attributes?: Record<string, string> } };
    const owner = ownerFrom(event.Actor?.Attributes ?? {});
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

function ownerFrom(labels: Record<string, string>): ManagedContainer['owner'] | undefined {
  const kind = labels[LABELS.kind];
  const name = labels[LABELS.name];
  const uid = labels[LABELS.uid];
  if (!isKind(kind) || !name || !uid) return undefined;
  return { kind, name, uid };
}

function fromListInfo(info: ContainerInfo): ManagedContainer | undefined {
  const owner = ownerFrom(info.Labels);
  if (!owner) return undefined;
  const appPort = Number(info.Labels[LABELS.port] ?? 0);
  const binding = info.Ports.find((port) => port.PrivatePort === appPort && port.IP === '127.0.0.1' && port.PublicPort);
  return {
    id: info.Id,
    name: (info.Names[0] ?? info.Id).replace(/^\//, ''),
    owner,
    specHash: info.Labels[LABELS.specHash] ?? '',
    state: toState(info.State),
    ...(binding ? { hostPort: binding.PublicPort } : {}),
    appPort,
    image: info.Image,
    createdAt: new Date(info.Created * 1000),
  };
}

function fromInspectInfo(info: ContainerInspectInfo): ManagedContainer | undefined {
  const labels = info.Config.Labels ?? {};
  const owner = ownerFrom(labels);
  if (!owner) return undefined;
  const appPort = Number(labels[LABELS.port] ?? 0);
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = info.NetworkSettings.Ports ?? {};
  const binding = (bindings[`${appPort}/tcp`] ?? []).find((entry) => entry.HostIp === '127.0.0.1' && entry.HostPort);
  const state: ContainerState = info.State.Paused ? 'paused' : toState(info.State.Status);
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    owner,
    specHash: labels[LABELS.specHash] ?? '',
    state,
    ...(binding && state !== 'exited' && state !== 'created' ? { hostPort: Number(binding.HostPort) } : {}),
    appPort,
    image: info.Config.Image,
    createdAt: new Date(info.Created),
  };
}
