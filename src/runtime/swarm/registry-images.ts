import type Docker from 'dockerode';
import { errorMessage } from '../../util/error-message.js';
import type { DockerRuntime } from '../docker-runtime.js';
import { dockerStatusCode } from '../errors.js';
import type { BuildRequest, ImageInfo, ImageRuntime } from '../runtime.js';

// Images reach every node through a registry: what is built (or loaded) on the manager is
// tagged REGISTRY/REF and pushed, and services name that reference, which any node can
// pull. Builds run on the manager with the Docker driver; this adds the push.

export class ImagePushFailedError extends Error {
  readonly code = 'ImagePushFailed';
  constructor(ref: string, registry: string, detail: string) {
    super(
      `cannot push ${ref} to the registry ${registry} (${detail}); check that it runs and that every node marks it --insecure-registry or trusts its TLS certificate`,
    );
    this.name = 'ImagePushFailedError';
  }
}

/** Whether a reference names its registry already (`host:port/…`, `host.domain/…`, `localhost/…`). */
export function namesRegistry(ref: string): boolean {
  const first = ref.split('/')[0] ?? '';
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
}

/** REGISTRY/REF, with the tag kept (`latest` when there is none). */
export function registryReference(registry: string, ref: string): string {
  const lastSlash = ref.lastIndexOf('/');
  const hasTag = ref.lastIndexOf(':') > lastSlash;
  return `${registry}/${hasTag ? ref : `${ref}:latest`}`;
}

function splitTag(ref: string): { repo: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}

export class RegistryImages implements ImageRuntime {
  /** Pushes done or under way, by local reference and image id: a push happens once per image. */
  private readonly pushed = new Map<string, Promise<string>>();

  constructor(
    private readonly docker: Docker,
    private readonly local: DockerRuntime,
    /** HOST:PORT; without one, services name images as they are, and every node must be able to pull them. */
    readonly registry: string | undefined,
  ) {}

  /** The reference a service should use for `ref`, pushed to the registry first when it is a local image. */
  async distribute(ref: string): Promise<string> {
    if (!this.registry || namesRegistry(ref) || ref.includes('@')) return ref;
    let id: string;
    try {
      id = (await this.docker.getImage(ref).inspect()).Id;
    } catch (error) {
      if (dockerStatusCode(error) === 404) return ref;
      throw error;
    }
    const key = `${ref}|${id}`;
    let push = this.pushed.get(key);
    if (!push) {
      push = this.push(ref, this.registry);
      this.pushed.set(key, push);
      push.catch(() => this.pushed.delete(key));
    }
    return push;
  }

  private async push(ref: string, registry: string): Promise<string> {
    const target = registryReference(registry, ref);
    const { repo, tag } = splitTag(target);
    await this.docker.getImage(ref).tag({ repo, tag });
    let failure: string | undefined;
    try {
      // The engine wants an X-Registry-Auth header even for a registry without accounts.
      const output = (await this.docker.getImage(target).push({ authconfig: {} })) as NodeJS.ReadableStream;
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(
          output,
          (error: Error | null) => (error ? reject(error) : resolve()),
          (event: { error?: string }) => {
            if (event.error) failure = event.error;
          },
        );
      });
    } catch (error) {
      failure = errorMessage(error);
    }
    if (failure) throw new ImagePushFailedError(ref, registry, failure);
    return target;
  }

  imageExists(ref: string): Promise<boolean> {
    return this.local.imageExists(ref);
  }

  /** Built on the manager, then pushed at once, so that the first start does not wait for it. */
  async build(request: BuildRequest, onOutput: (text: string) => void, signal?: AbortSignal): Promise<void> {
    await this.local.build(request, onOutput, signal);
    if (!this.registry) return;
    onOutput(`Pushing ${request.tag} to ${this.registry}\n`);
    const target = await this.distribute(request.tag);
    onOutput(`Pushed ${target}\n`);
  }

  pull(ref: string, onOutput: (text: string) => void): Promise<void> {
    return this.local.pull(ref, onOutput);
  }

  listBuilt(imageName: string): Promise<ImageInfo[]> {
    return this.local.listBuilt(imageName);
  }

  /** The manager's copy; the registry keeps its own (its garbage collection is the operator's, see docs/cluster.md). */
  async removeImage(ref: string): Promise<void> {
    await this.local.removeImage(ref);
    if (this.registry && !namesRegistry(ref)) await this.local.removeImage(registryReference(this.registry, ref));
  }
}
