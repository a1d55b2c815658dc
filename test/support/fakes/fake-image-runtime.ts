import { LABELS } from '../../../src/runtime/labels.js';
import {
  BuildCancelledError,
  PullFailedError,
  type BuildRequest,
  type ImageInfo,
  type ImageRuntime,
} from '../../../src/runtime/runtime.js';

// An in-memory ImageRuntime for the image reconciler's table: images are tags in a Map,
// builds and pulls succeed at once (writing a line of output) unless a test makes them
// fail (failOn) or holds a build half-way (holdBuilds) to change the Image meanwhile.
// Every call that changes something goes to `log`, in order: `build TAG`, `pull REF`,
// `remove-image ID`.

/** Every call of the image runtime, by name: any of them can be made to fail (see failOn). */
export type ImageOp = 'imageExists' | 'build' | 'pull' | 'listBuilt' | 'removeImage';

interface StoredImage extends ImageInfo {
  /** The Image object it was built for (its `luma.dev/name` label); none for a pulled one. */
  owner?: string;
}

/** A build held half-way: `reached` resolves when it is, `release()` lets it finish. */
export interface HeldBuild {
  reached: Promise<void>;
  release: () => void;
}

export class FakeImageRuntime implements ImageRuntime {
  readonly log: string[] = [];
  /** Bytes of build context each build read, in order: the context really was sent. */
  readonly contextBytes: number[] = [];
  private readonly images = new Map<string, StoredImage>();
  private readonly failures = new Map<ImageOp, { error: Error; left: number }>();
  private held: (HeldBuild & { arrive: () => void; released: Promise<void> }) | undefined;
  private nextId = 1;
  /** Advances with each image made, so listBuilt's newest-first order is the order of making. */
  private made = 0;

  /** Makes calls of `op` fail with `error`: the next `times` of them, or every one. */
  failOn(op: ImageOp, error: Error = new Error(`${op} failed`), times = Number.POSITIVE_INFINITY): void {
    this.failures.set(op, { error, left: times });
  }

  /** The next build waits, once it has started, until released or cancelled. */
  holdBuilds(): HeldBuild {
    let arrive = (): void => undefined;
    let release = (): void => undefined;
    const reached = new Promise<void>((resolve) => (arrive = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held = { reached, release, arrive, released };
    return { reached, release };
  }

  /** Puts an image in place without recording a call: built for `owner`, or pulled when none. */
  seed(tag: string, owner?: string): ImageInfo {
    const image: StoredImage = { id: `sha256:img${this.nextId++}`, tags: [tag], createdAt: new Date(++this.made) };
    if (owner !== undefined) image.owner = owner;
    this.images.set(tag, image);
    return image;
  }

  has(tag: string): boolean {
    return this.images.has(tag);
  }

  async imageExists(ref: string): Promise<boolean> {
    this.failIfAsked('imageExists');
    return this.images.has(ref);
  }

  async build(request: BuildRequest, onOutput: (text: string) => void, signal?: AbortSignal): Promise<void> {
    this.failIfAsked('build');
    this.log.push(`build ${request.tag}`);
    let bytes = 0;
    for await (const chunk of request.context) bytes += (chunk as Buffer).length;
    this.contextBytes.push(bytes);
    onOutput(`Step 1/1 : FROM scratch\n`);
    await this.waitIfHeld(request.tag, signal);
    this.seed(request.tag, request.labels[LABELS.name]);
    onOutput(`Successfully tagged ${request.tag}\n`);
  }

  async pull(ref: string, onOutput: (text: string) => void): Promise<void> {
    this.failIfAsked('pull');
    this.log.push(`pull ${ref}`);
    if (ref.includes('missing')) throw new PullFailedError(`pull access denied for ${ref}`);
    onOutput(`Pulled ${ref}\n`);
    this.seed(ref);
  }

  async listBuilt(imageName: string): Promise<ImageInfo[]> {
    this.failIfAsked('listBuilt');
    return [...this.images.values()]
      .filter((image) => image.owner === imageName)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map(({ id, tags, createdAt }) => ({ id, tags: [...tags], createdAt }));
  }

  async removeImage(ref: string): Promise<void> {
    this.failIfAsked('removeImage');
    this.log.push(`remove-image ${ref}`);
    for (const [tag, image] of this.images) if (tag === ref || image.id === ref) this.images.delete(tag);
  }

  private failIfAsked(op: ImageOp): void {
    const failure = this.failures.get(op);
    if (!failure) return;
    if (--failure.left <= 0) this.failures.delete(op);
    throw failure.error;
  }

  /** As the engine does: a cancelled build stops where it is, and tags nothing. */
  private async waitIfHeld(tag: string, signal: AbortSignal | undefined): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    held.arrive();
    const cancelled = new Promise<'cancelled'>((resolve) => {
      if (signal?.aborted) resolve('cancelled');
      signal?.addEventListener('abort', () => resolve('cancelled'), { once: true });
    });
    if ((await Promise.race([held.released, cancelled])) === 'cancelled') throw new BuildCancelledError(tag);
  }
}
