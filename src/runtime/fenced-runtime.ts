import type { EngineRuntime } from './select-runtime.js';
import type {
  BuildRequest,
  ContainerFilter,
  ContainerLogOptions,
  ContainerLogStream,
  ContainerSpec,
  ImageInfo,
  ManagedContainer,
  ResourceLimits,
} from './runtime.js';
import type { OwnerRef } from './labels.js';

// The runtime a controller that shares its store drives: every call that changes the
// engine (create, start, stop, pause, remove, claim, limits, builds, pulls) first asks
// `check`, which throws once this process no longer holds the leadership. The store's
// fence stops a deposed leader's writes inside the database; this one stops its Docker
// calls, which no database transaction covers, so a paused old leader that wakes up after
// another took over cannot start a duplicate or remove the new leader's container. Reads
// (list, inspect, logs, the event stream) pass: a standby's API answers from them.

/** Throws (a FencedError) when the caller may no longer change the engine. */
export type RuntimeFence = () => void;

export class FencedRuntime implements EngineRuntime {
  constructor(
    private readonly inner: EngineRuntime,
    private readonly check: RuntimeFence,
  ) {}

  get endpoint(): string {
    return this.inner.endpoint;
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  list(filter?: ContainerFilter): Promise<ManagedContainer[]> {
    return this.inner.list(filter);
  }

  imageExists(ref: string): Promise<boolean> {
    return this.inner.imageExists(ref);
  }

  inspect(id: string): Promise<ManagedContainer | undefined> {
    return this.inner.inspect(id);
  }

  logs(id: string, options: ContainerLogOptions): Promise<ContainerLogStream | undefined> {
    return this.inner.logs(id, options);
  }

  watchChanges(onChange: (owner: OwnerRef, action: string) => void): () => void {
    return this.inner.watchChanges(onChange);
  }

  listBuilt(imageName: string): Promise<ImageInfo[]> {
    return this.inner.listBuilt(imageName);
  }

  create(spec: ContainerSpec): Promise<ManagedContainer> {
    return this.fenced(() => this.inner.create(spec));
  }

  start(id: string): Promise<ManagedContainer> {
    return this.fenced(() => this.inner.start(id));
  }

  stop(id: string, timeoutSeconds: number): Promise<void> {
    return this.fenced(() => this.inner.stop(id, timeoutSeconds));
  }

  pause(id: string): Promise<void> {
    return this.fenced(() => this.inner.pause(id));
  }

  unpause(id: string): Promise<void> {
    return this.fenced(() => this.inner.unpause(id));
  }

  resume(id: string): Promise<boolean> {
    return this.fenced(() => this.inner.resume(id));
  }

  remove(id: string): Promise<void> {
    return this.fenced(() => this.inner.remove(id));
  }

  claim(container: ManagedContainer, lease: OwnerRef): Promise<ManagedContainer> {
    return this.fenced(() => this.inner.claim(container, lease));
  }

  updateLimits(id: string, limits: ResourceLimits): Promise<void> {
    return this.fenced(() => this.inner.updateLimits(id, limits));
  }

  build(request: BuildRequest, onOutput: (text: string) => void, signal?: AbortSignal): Promise<void> {
    return this.fenced(() => this.inner.build(request, onOutput, signal));
  }

  pull(ref: string, onOutput: (text: string) => void): Promise<void> {
    return this.fenced(() => this.inner.pull(ref, onOutput));
  }

  removeImage(ref: string): Promise<void> {
    return this.fenced(() => this.inner.removeImage(ref));
  }

  /** The check runs at the moment of the call, so a refusal is a rejected promise like any engine error. */
  private async fenced<T>(call: () => Promise<T>): Promise<T> {
    this.check();
    return call();
  }
}
