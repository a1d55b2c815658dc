import type { ImageObject, ImageStatus } from '../model/types.js';
import { CONTEXT_DIGEST_ANNOTATION, type ContextStore } from '../images/context-store.js';
import { packContext } from '../images/context.js';
import type { LogHub } from '../logs/log-hub.js';
import { errorMessage } from '../util/error-message.js';
import { LABELS } from '../runtime/labels.js';
import {
  BuildCancelledError,
  BuildFailedError,
  PullFailedError,
  type BuildRequest,
  type ImageRuntime,
} from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { shortHash } from '../util/hash.js';
import type { Logger } from '../util/logger.js';
import { setReadiness } from './conditions.js';
import type { ReconcileResult } from './work-queue.js';
import { NO_CONTROLLER_METRICS, type ControllerMetrics } from '../metrics/controller-metrics.js';
import { NO_EVENTS, type EventRecorder } from '../events/event-log.js';
import { imagesOfRevisions } from './revisions.js';

// Converges one Image: the tag its spec and context map to must exist. A build runs only
// when that tag is missing, so an unchanged context is never rebuilt; a failed build is
// not retried until the spec or the context changes. A build whose Image is deleted,
// re-created or given another context is cancelled at once (cancelStaleBuild), and what
// it produced is removed.

const BUILD_LOG_CHARS = 8_000;
/** Older builds of an Image beyond the current one and this many are removed. */
const KEEP_PREVIOUS_BUILDS = 1;

export interface ImageReconcilerOptions {
  store: ObjectStore;
  runtime: ImageRuntime;
  contexts: ContextStore;
  logs: LogHub;
  logger: Logger;
  /** The installation's name: tags are per installation, so two Lumas on one engine never share builds. */
  instance: string;
  now?: () => number;
  metrics?: ControllerMetrics;
  /** Build results are told here (BuildSucceeded, BuildFailed): webhooks and `luma events`. */
  events?: EventRecorder;
}

/** A build under way: whose it is and how to stop it. Only a cache of what runs in this process. */
interface RunningBuild {
  uid: string;
  tag: string;
  abort: AbortController;
}

type BuildTarget = { kind: 'build'; tag: string; digest: string; dockerfile: string; args: Record<string, string> };
type Target = BuildTarget | { kind: 'ref'; tag: string };

export function logKey(name: string): string {
  return `image/${name}`;
}

export class ImageReconciler {
  private readonly now: () => number;

  private readonly metrics: ControllerMetrics;
  private readonly events: EventRecorder;
  private readonly running = new Map<string, RunningBuild>();

  constructor(private readonly options: ImageReconcilerOptions) {
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? NO_CONTROLLER_METRICS;
    this.events = options.events ?? NO_EVENTS;
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    const { store, runtime } = this.options;
    const image = store.get('Image', name);
    if (!image) {
      // Deleted: its builds go too (those still used by a container stay until it is gone),
      // except those a kept revision runs: a rollback to it needs them.
      const kept = imagesOfRevisions(store.list('Revision'));
      for (const built of await runtime.listBuilt(name))
        if (!built.tags.some((tag) => kept.has(tag))) await runtime.removeImage(built.id);
      return;
    }
    const target = this.targetOf(image);
    if ('problem' in target) {
      await this.writeStatus(image, { phase: 'Failed', reason: target.reason, message: target.problem });
      return;
    }
    if (await runtime.imageExists(target.tag)) {
      if (
        image.status?.phase === 'Ready' &&
        image.status.image === target.tag &&
        image.status.observedGeneration === image.metadata.generation
      )
        // Nothing to build, but a revision pruned since may have let go of an old build.
        return this.removeOldBuilds(name, target.tag);
      await this.writeStatus(image, {
        phase: 'Ready',
        tag: target.tag,
        reason: 'Ready',
        message: `image ${target.tag} is ready`,
      });
      await this.removeOldBuilds(name, target.tag);
      return;
    }
    const status = image.status;
    if (status?.phase === 'Failed' && status.tag === target.tag) return; // same input, same failure
    return target.kind === 'ref' ? this.pull(image, target.tag) : this.build(image, target);
  }

  /**
   * Called on every change of an Image, outside its (busy) reconcile: a build that no
   * longer answers what is stored (the object deleted, re-created, or its context or
   * Dockerfile changed) is stopped now, instead of running to its end for nobody.
   */
  cancelStaleBuild(name: string): void {
    const build = this.running.get(name);
    if (!build || build.abort.signal.aborted) return;
    const image = this.options.store.get('Image', name);
    const wanted =
      image && !image.metadata.deletionTimestamp && image.metadata.uid === build.uid ? this.targetOf(image) : undefined;
    if (wanted && 'tag' in wanted && wanted.tag === build.tag) return;
    this.options.logger.info({ image: name, tag: build.tag }, 'cancelling a build its Image no longer wants');
    build.abort.abort();
  }

  private targetOf(image: ImageObject): Target | { problem: string; reason: string } {
    const { spec } = image;
    if (spec.ref) return { kind: 'ref', tag: spec.ref };
    const build = spec.build;
    if (!build) return { problem: 'spec has neither build nor ref', reason: 'InvalidSpec' };
    const digest = image.metadata.annotations?.[CONTEXT_DIGEST_ANNOTATION];
    if (!digest) {
      return {
        problem: `the build context "${build.context}" was never uploaded; apply the manifest with \`luma apply -f\`, which uploads it, or upload an archive to POST /contexts`,
        reason: 'ContextMissing',
      };
    }
    const dockerfile = build.dockerfile ?? 'Dockerfile';
    const args = build.args ?? {};
    return {
      kind: 'build',
      digest,
      dockerfile,
      args,
      tag: `luma/${this.options.instance}/${image.metadata.name}:${shortHash({ digest, dockerfile, args })}`,
    };
  }

  /** The phases of a build: context there, Building written, the engine's build, its outcome written. */
  private async build(image: ImageObject, target: BuildTarget): Promise<ReconcileResult> {
    const name = image.metadata.name;
    if (!(await this.options.contexts.has(target.digest))) {
      await this.writeStatus(image, {
        phase: 'Failed',
        tag: target.tag,
        reason: 'ContextMissing',
        message: `the uploaded context ${target.digest} is no longer stored; apply the manifest again`,
      });
      return;
    }
    await this.writeStatus(image, {
      phase: 'Building',
      tag: target.tag,
      reason: 'Building',
      message: `building ${target.tag}`,
    });
    const output = this.openOutput(name);
    const started = this.now();
    const abort = new AbortController();
    this.running.set(name, { uid: image.metadata.uid ?? '', tag: target.tag, abort });
    try {
      await this.options.runtime.build(this.buildRequest(image, target), output.append, abort.signal);
      await this.built(image, target.tag, (this.now() - started) / 1000, output.tail());
    } catch (error) {
      await this.buildStopped(image, target.tag, error, (this.now() - started) / 1000, output.tail());
    } finally {
      this.running.delete(name);
      output.close();
    }
  }

  private buildRequest(image: ImageObject, target: BuildTarget): BuildRequest {
    const { contexts } = this.options;
    return {
      tag: target.tag,
      context: packContext(contexts.directoryOf(target.digest), { dockerfile: target.dockerfile }),
      dockerfile: target.dockerfile,
      args: target.args,
      labels: { [LABELS.kind]: 'Image', [LABELS.name]: image.metadata.name, [LABELS.uid]: image.metadata.uid ?? '' },
    };
  }

  /** Build or pull output, streamed to its followers (`luma logs`); its tail is kept for status. */
  private openOutput(name: string): { append: (text: string) => void; tail: () => string; close: () => void } {
    const { logs } = this.options;
    const key = logKey(name);
    logs.begin(key);
    let tail = '';
    return {
      append: (text) => {
        tail = (tail + text).slice(-BUILD_LOG_CHARS);
        logs.append(key, text);
      },
      tail: () => tail,
      close: () => logs.end(key),
    };
  }

  private async built(image: ImageObject, tag: string, seconds: number, buildLog: string): Promise<void> {
    const name = image.metadata.name;
    const message = `built ${tag} in ${seconds.toFixed(1)}s`;
    this.options.logger.info({ image: name, tag, seconds }, 'image built');
    this.metrics.imageBuilt('succeeded', seconds);
    this.events.record({ kind: 'Image', name }, 'Normal', 'BuildSucceeded', message);
    await this.writeStatus(image, { phase: 'Ready', tag, reason: 'Built', message, buildLog, seconds });
    await this.removeOldBuilds(name, tag);
  }

  /**
   * A build that did not finish: cancelled (nothing left of it), failed for its input
   * (Failed; not retried until the input changes), or interrupted (the engine went away, a
   * timeout: rethrown, so the queue tries again after its backoff).
   */
  private async buildStopped(
    image: ImageObject,
    tag: string,
    error: unknown,
    seconds: number,
    buildLog: string,
  ): Promise<void> {
    const name = image.metadata.name;
    if (error instanceof BuildCancelledError) return this.cancelled(image, tag, seconds);
    if (error instanceof BuildFailedError) {
      this.options.logger.warn({ image: name, tag, err: error.message }, 'image build failed');
      this.metrics.imageBuilt('failed', seconds);
      this.events.record({ kind: 'Image', name }, 'Warning', 'BuildFailed', error.message);
      await this.writeStatus(image, {
        phase: 'Failed',
        tag,
        reason: 'BuildFailed',
        message: error.message,
        buildLog,
        seconds,
      });
      return;
    }
    const message = `the build was interrupted: ${errorMessage(error)}`;
    await this.writeStatus(image, { phase: 'Pending', tag, reason: 'BuildRetrying', message, buildLog });
    throw error;
  }

  /**
   * A cancelled build leaves nothing: the tag, should the engine have finished it as the
   * cancel came, goes (it carries the old owner's uid). The key's next run, queued by the
   * change that cancelled it, builds what is stored now.
   */
  private async cancelled(image: ImageObject, tag: string, seconds: number): Promise<void> {
    const name = image.metadata.name;
    if (await this.options.runtime.imageExists(tag)) await this.options.runtime.removeImage(tag);
    this.options.logger.info({ image: name, tag, seconds }, 'image build cancelled');
    this.metrics.imageBuilt('cancelled', seconds);
    await this.writeStatus(image, {
      phase: 'Pending',
      tag,
      reason: 'BuildCancelled',
      message: `the build of ${tag} was cancelled: the Image changed`,
    });
  }

  private async pull(image: ImageObject, ref: string): Promise<ReconcileResult> {
    await this.writeStatus(image, { phase: 'Building', tag: ref, reason: 'Pulling', message: `pulling ${ref}` });
    const output = this.openOutput(image.metadata.name);
    try {
      await this.options.runtime.pull(ref, output.append);
      await this.writeStatus(image, {
        phase: 'Ready',
        tag: ref,
        reason: 'Pulled',
        message: `pulled ${ref}`,
        buildLog: output.tail(),
      });
    } catch (error) {
      if (!(error instanceof PullFailedError)) throw error;
      await this.writeStatus(image, {
        phase: 'Failed',
        tag: ref,
        reason: 'PullFailed',
        message: error.message,
        buildLog: output.tail(),
      });
    } finally {
      output.close();
    }
  }

  /** Keeps the current build, the one before it and those kept revisions run; older ones are removed. */
  private async removeOldBuilds(name: string, current: string): Promise<void> {
    const { runtime, store } = this.options;
    const kept = imagesOfRevisions(store.list('Revision'));
    const others = (await runtime.listBuilt(name)).filter(
      (built) => !built.tags.includes(current) && !built.tags.some((tag) => kept.has(tag)),
    );
    for (const old of others.slice(KEEP_PREVIOUS_BUILDS)) await runtime.removeImage(old.id);
  }

  private async writeStatus(
    image: ImageObject,
    next: {
      phase: NonNullable<ImageStatus['phase']>;
      tag?: string;
      reason: string;
      message: string;
      buildLog?: string;
      seconds?: number;
    },
  ): Promise<void> {
    const current = this.options.store.get('Image', image.metadata.name);
    if (!current || current.metadata.uid !== image.metadata.uid) return;
    const previous = current.status ?? {};
    const state = next.phase === 'Ready' ? 'ready' : next.phase === 'Failed' ? 'stalled' : 'reconciling';
    const status: ImageStatus = {
      observedGeneration: image.metadata.generation ?? 0,
      phase: next.phase,
      conditions: setReadiness(
        previous.conditions,
        { state, reason: next.reason, message: next.message },
        new Date(this.now()),
      ),
      // The last good image stays, so projects keep running it while a rebuild runs or fails.
      ...(next.phase === 'Ready' && next.tag ? { image: next.tag } : previous.image ? { image: previous.image } : {}),
      ...(next.tag ? { tag: next.tag } : previous.tag ? { tag: previous.tag } : {}),
      ...(next.buildLog !== undefined
        ? { buildLog: next.buildLog }
        : previous.buildLog !== undefined
          ? { buildLog: previous.buildLog }
          : {}),
      ...(next.seconds !== undefined
        ? { buildDurationSeconds: Math.round(next.seconds * 1000) / 1000 }
        : previous.buildDurationSeconds !== undefined
          ? { buildDurationSeconds: previous.buildDurationSeconds }
          : {}),
    };
    await this.options.store.updateStatus('Image', image.metadata.name, status);
  }
}
