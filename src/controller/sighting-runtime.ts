import type { OwnerRef } from '../runtime/labels.js';
import type {
  ContainerFilter,
  ContainerLogOptions,
  ContainerLogStream,
  ContainerRuntime,
  ContainerSpec,
  ManagedContainer,
  ResourceLimits,
} from '../runtime/runtime.js';
import type { ContainerSightings } from './container-sightings.js';

// The runtime the controller's reconcilers use: the engine's own, with every change it
// makes marked in the sightings (container-sightings.ts) before and after the call, so a
// reconcile handed the resync's listing never reads containers from before a change the
// controller made itself. Docker's events would say so too, but only a moment later.

export class SightingRuntime implements ContainerRuntime {
  constructor(
    private readonly engine: ContainerRuntime,
    private readonly sightings: ContainerSightings,
  ) {}

  ping(): Promise<void> {
    return this.engine.ping();
  }

  list(filter?: ContainerFilter): Promise<ManagedContainer[]> {
    return this.engine.list(filter);
  }

  imageExists(ref: string): Promise<boolean> {
    return this.engine.imageExists(ref);
  }

  async create(spec: ContainerSpec): Promise<ManagedContainer> {
    this.sightings.touch(spec.owner);
    try {
      const created = await this.engine.create(spec);
      this.sightings.noteCreated(created);
      return created;
    } finally {
      this.sightings.touch(spec.owner);
    }
  }

  start(id: string): Promise<ManagedContainer> {
    return this.changing(id, () => this.engine.start(id));
  }

  stop(id: string, timeoutSeconds: number): Promise<void> {
    return this.changing(id, () => this.engine.stop(id, timeoutSeconds));
  }

  pause(id: string): Promise<void> {
    return this.changing(id, () => this.engine.pause(id));
  }

  unpause(id: string): Promise<void> {
    return this.changing(id, () => this.engine.unpause(id));
  }

  resume(id: string): Promise<boolean> {
    return this.changing(id, () => this.engine.resume(id));
  }

  remove(id: string): Promise<void> {
    return this.changing(id, () => this.engine.remove(id));
  }

  async claim(container: ManagedContainer, lease: OwnerRef): Promise<ManagedContainer> {
    const touchBoth = (): void => {
      this.sightings.touch(container.owner);
      this.sightings.touch(lease);
    };
    touchBoth();
    try {
      return await this.engine.claim(container, lease);
    } finally {
      touchBoth();
    }
  }

  updateLimits(id: string, limits: ResourceLimits): Promise<void> {
    return this.changing(id, () => this.engine.updateLimits(id, limits));
  }

  inspect(id: string): Promise<ManagedContainer | undefined> {
    return this.engine.inspect(id);
  }

  logs(id: string, options: ContainerLogOptions): Promise<ContainerLogStream | undefined> {
    return this.engine.logs(id, options);
  }

  watchChanges(onChange: (owner: OwnerRef, action: string) => void): () => void {
    return this.engine.watchChanges(onChange);
  }

  private async changing<T>(id: string, change: () => Promise<T>): Promise<T> {
    this.sightings.touchContainer(id);
    try {
      return await change();
    } finally {
      this.sightings.touchContainer(id);
    }
  }
}
