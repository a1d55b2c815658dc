import type { Readable } from 'node:stream';
import type { Capability } from '../model/capabilities.js';
import type { ContainerRole, OwnerRef } from './labels.js';

// What the controller needs from a container engine. Two drivers talk to a real engine:
// Docker (src/runtime/docker-runtime.ts, one container per instance) and Swarm
// (src/runtime/swarm/, one service per instance); unit tests use small fakes of this.

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ManagedContainer {
  id: string;
  name: string;
  /** For a claimed pool container, the lease (from its name), not the project of its labels. */
  owner: OwnerRef;
  role: ContainerRole;
  /** A lease's container that was claimed from its project's pool (its labels still say pool). */
  claimedFromPool?: boolean;
  specHash: string;
  state: ContainerState;
  /** The port published for the app port, while the container runs (on hostAddress). */
  hostPort?: number;
  /**
   * Where hostPort answers: absent means 127.0.0.1 (the Docker runtime publishes on
   * loopback); the Swarm runtime gives the address of the node its task runs on.
   */
  hostAddress?: string;
  /** Container port the app listens on (from its labels). */
  appPort: number;
  image: string;
  createdAt: Date;
  /** How the main process ended, for an exited container (crash-loop reports). */
  exitCode?: number;
  /** The memory limit it was created with (its label); absent when none was declared. */
  memoryBytes?: number;
  /** The project Revision it runs (its label); absent on containers made before revisions. */
  revision?: string;
}

export interface ContainerSpec {
  owner: OwnerRef;
  /** Default `instance`. A `lease` container is named for its lease (see leaseContainerName). */
  role?: ContainerRole;
  specHash: string;
  image: string;
  port: number;
  env: Record<string, string>;
  /**
   * As in Kubernetes: `command` replaces the image's ENTRYPOINT and `args` its CMD. With
   * `command` alone the image's CMD is dropped too; with `args` alone the ENTRYPOINT stays.
   */
  command?: string[];
  args?: string[];
  cpuMillis?: number;
  memoryBytes?: number;
  /** The Linux capabilities it keeps (all others are dropped); Luma's kept set when absent. */
  capabilities?: readonly Capability[];
  /** The project Revision it runs, kept in a label. */
  revision?: string;
}

export interface ContainerFilter {
  kind?: OwnerRef['kind'];
  name?: string;
  role?: ContainerRole;
}

export interface ResourceLimits {
  cpuMillis: number;
  memoryBytes: number;
}

export type LogStreamName = 'stdout' | 'stderr';

/** One line a container wrote, without its newline. */
export interface LogLine {
  stream: LogStreamName;
  /** When the engine received it: RFC 3339 in UTC with nanoseconds, as Docker stamps it. */
  time: string;
  line: string;
}

export interface ContainerLogOptions {
  /** Keep the stream open for new lines until the container stops. */
  follow: boolean;
  /** Only the last N lines written so far (all when absent). */
  tail?: number;
  /** Only lines stamped at or after this RFC 3339 time. */
  since?: string;
}

/**
 * A container's log, line by line. Iterate it once; close() ends it early and releases the
 * engine's stream (a client that goes away must not leave a follow open in Docker).
 */
export interface ContainerLogStream extends AsyncIterable<LogLine> {
  close(): void;
}

export interface ContainerRuntime {
  /** Resolves when the engine answers; rejects with DockerUnavailableError otherwise. */
  ping(): Promise<void>;
  /** Every container this Luma installation manages, optionally narrowed. */
  list(filter?: ContainerFilter): Promise<ManagedContainer[]>;
  imageExists(ref: string): Promise<boolean>;
  /** Creates (does not start) a container. */
  create(spec: ContainerSpec): Promise<ManagedContainer>;
  /** Starts a created or stopped container and returns it with its host port. */
  start(id: string): Promise<ManagedContainer>;
  /** Stops a running or paused container (a paused one is thawed first so it can shut down). */
  stop(id: string, timeoutSeconds: number): Promise<void>;
  /** Freezes every process of the container (cgroup freezer); memory stays, CPU drops to zero. */
  pause(id: string): Promise<void>;
  /** Thaws a paused container; "not paused" (already running) is not an error. */
  unpause(id: string): Promise<void>;
  /**
   * Thaws a container only if it is paused: true when it was and now runs; false when it
   * is not paused (stopped, running) or no longer exists, i.e. the caller's view of it is
   * stale. One engine call, no inspect first.
   */
  resume(id: string): Promise<boolean>;
  remove(id: string): Promise<void>;
  /**
   * Hands a pool container to a lease: renames it for the lease, so that from then on it is
   * listed as the lease's. Fails when another container already carries that name.
   */
  claim(container: ManagedContainer, lease: OwnerRef): Promise<ManagedContainer>;
  /** Changes a running container's CPU and memory limits in place (docker update). */
  updateLimits(id: string, limits: ResourceLimits): Promise<void>;
  /** Undefined when the container no longer exists. */
  inspect(id: string): Promise<ManagedContainer | undefined>;
  /** What the container wrote on stdout and stderr, in order; undefined when it no longer exists. */
  logs(id: string, options: ContainerLogOptions): Promise<ContainerLogStream | undefined>;
  /**
   * Calls back with the owner of any managed container that started, stopped, died or
   * was removed (by Luma or by hand), reconnecting when the engine goes away. Returns a
   * function that stops watching.
   */
  watchChanges(onChange: (owner: OwnerRef, action: string) => void): () => void;
}

export interface BuildRequest {
  tag: string;
  /** The context as a tar stream. */
  context: Readable;
  dockerfile: string;
  args: Record<string, string>;
  labels: Record<string, string>;
}

export interface ImageInfo {
  id: string;
  tags: string[];
  createdAt: Date;
}

/** What the image reconciler needs from the engine. */
export interface ImageRuntime {
  imageExists(ref: string): Promise<boolean>;
  /**
   * Streams build output through onOutput; BuildFailedError when the build itself fails,
   * BuildCancelledError when `signal` aborts it (the engine stops the step that runs).
   */
  build(request: BuildRequest, onOutput: (text: string) => void, signal?: AbortSignal): Promise<void>;
  /** Streams pull progress through onOutput; PullFailedError when the image cannot be had. */
  pull(ref: string, onOutput: (text: string) => void): Promise<void>;
  /** Images built by this installation for one Image object, newest first. */
  listBuilt(imageName: string): Promise<ImageInfo[]>;
  removeImage(ref: string): Promise<void>;
}

/** The Dockerfile or its context is broken: retrying the same input will not help. */
export class BuildFailedError extends Error {
  readonly code = 'BuildFailed';
  constructor(message: string) {
    super(message);
    this.name = 'BuildFailedError';
  }
}

/** The build was stopped on purpose (its Image was deleted or changed): not a failure, not retried. */
export class BuildCancelledError extends Error {
  readonly code = 'BuildCancelled';
  constructor(tag: string) {
    super(`the build of ${tag} was cancelled`);
    this.name = 'BuildCancelledError';
  }
}

export class PullFailedError extends Error {
  readonly code = 'PullFailed';
  constructor(message: string) {
    super(message);
    this.name = 'PullFailedError';
  }
}
