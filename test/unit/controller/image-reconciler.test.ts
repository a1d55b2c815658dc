import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ImageReconciler } from '../../../src/controller/image-reconciler.js';
import { findCondition } from '../../../src/controller/conditions.js';
import { WorkQueue } from '../../../src/controller/work-queue.js';
import type { ReconcileResult } from '../../../src/controller/work-queue.js';
import type { EventRecorder } from '../../../src/events/event-log.js';
import { DEFAULT_ARCHIVE_LIMITS } from '../../../src/images/archive.js';
import { CONTEXT_DIGEST_ANNOTATION, ContextStore } from '../../../src/images/context-store.js';
import { LogHub } from '../../../src/logs/log-hub.js';
import { API_VERSION, type ImageObject, type ImageSpec, type ImageStatus } from '../../../src/model/types.js';
import { DockerUnavailableError } from '../../../src/runtime/errors.js';
import { BuildFailedError } from '../../../src/runtime/runtime.js';
import { FileStore } from '../../../src/store/file-store.js';
import { shortHash } from '../../../src/util/hash.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { FakeImageRuntime } from '../../support/fakes/fake-image-runtime.js';

// Knative-style table for the image reconciler: each row gives the Image (its spec and the
// context digest apply annotated it with), the images the engine already has, and calls
// that fail on demand; then the engine calls (in order), the status writes (phase/reason,
// in order), the events and the status expected. Every row is reconciled once more after
// it converged, and that reconcile must call, write and record nothing.

const NAME = 'site';
const INSTANCE = 'test';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;
const BUILD_SPEC: ImageSpec = { build: { context: './site' } };

function tagOf(digest: string, dockerfile = 'Dockerfile', args: Record<string, string> = {}): string {
  return `luma/${INSTANCE}/${NAME}:${shortHash({ digest, dockerfile, args })}`;
}
const TAG = tagOf(DIGEST);

interface World {
  store: FileStore;
  engine: FakeImageRuntime;
  contexts: ContextStore;
  reconciler: ImageReconciler;
  /** Status writes of the Image, as `phase/reason`. */
  writes: string[];
  /** Events recorded, as `type reason`. */
  events: string[];
  clock: { now: number };
}

let stateDir: string;
let world: World;

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-images-'));
  const store = await FileStore.open(path.join(stateDir, 'state'));
  const contexts = await new ContextStore(path.join(stateDir, 'contexts'), DEFAULT_ARCHIVE_LIMITS).prepare();
  const engine = new FakeImageRuntime();
  const writes: string[] = [];
  const events: string[] = [];
  const recorder: EventRecorder = { record: (_object, type, reason) => events.push(`${type} ${reason}`) };
  // A status write is a change of status: an apply (new annotations) is not one.
  let lastStatus = '';
  store.watch(({ type, object }) => {
    if (type !== 'MODIFIED' || object.kind !== 'Image' || !object.status) return;
    const written = JSON.stringify(object.status);
    if (written === lastStatus) return;
    lastStatus = written;
    writes.push(`${object.status.phase}/${findCondition(object.status.conditions, 'Ready')?.reason}`);
  });
  const clock = { now: Date.parse('2026-01-01T00:00:00.000Z') };
  const reconciler = new ImageReconciler({
    store,
    runtime: engine,
    contexts,
    logs: new LogHub(),
    logger: silentLogger(),
    instance: INSTANCE,
    now: () => clock.now,
    events: recorder,
  });
  world = { store, engine, contexts, reconciler, writes, events, clock };
});

afterEach(async () => {
  await world.store.close();
  await rm(stateDir, { recursive: true, force: true });
});

/** A context as apply leaves it: its files stored under its digest. */
async function uploadContext(digest: string): Promise<void> {
  const dir = world.contexts.directoryOf(digest);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY index.html /www/\n');
  await writeFile(path.join(dir, 'index.html'), '<h1>hi</h1>\n');
}

async function applyImage(spec: ImageSpec, digest: string | null = DIGEST): Promise<void> {
  const annotations = spec.build && digest ? { [CONTEXT_DIGEST_ANNOTATION]: digest } : undefined;
  const object: ImageObject = {
    apiVersion: API_VERSION,
    kind: 'Image',
    metadata: { name: NAME, ...(annotations ? { annotations } : {}) },
    spec,
  };
  await world.store.apply(object);
}

/** A project's revision that runs `image`: a rollback to it needs the image. */
async function storeRevision(image: string): Promise<void> {
  await world.store.apply({
    apiVersion: API_VERSION,
    kind: 'Revision',
    metadata: { name: 'web-1' },
    spec: { project: 'web', projectUid: 'uid', number: 1, image, template: {} },
  });
}

function status(): ImageStatus | undefined {
  return world.store.get('Image', NAME)?.status;
}

function clearCalls(): void {
  world.engine.log.length = 0;
  world.writes.length = 0;
  world.events.length = 0;
}

interface Row {
  name: string;
  /** The Image in the store, built from the context DIGEST (uploaded unless `noContext`); null: none. */
  spec: ImageSpec | null;
  /** The Image carries no context digest (never uploaded) / a digest whose files are gone. */
  noDigest?: boolean;
  noContext?: boolean;
  /** The engine's images and earlier reconciles, before the one under test. */
  given?: () => void | Promise<void>;
  /** Calls that fail (engine.failOn), and the error the reconcile throws. */
  failures?: () => void;
  wantError?: RegExp;
  /** Done while the build under test is held half-way (engine.holdBuilds); it is released after. */
  midBuild?: () => Promise<void>;
  wantLog: string[];
  wantWrites: string[];
  wantEvents?: string[];
  wantPhase?: ImageStatus['phase'];
  wantResult?: ReconcileResult;
  check?: () => void;
}

const rows: Row[] = [
  {
    name: 'a new context → built once: Building, then Ready with the log and the duration',
    spec: BUILD_SPEC,
    wantLog: [`build ${TAG}`],
    wantWrites: ['Building/Building', 'Ready/Built'],
    wantEvents: ['Normal BuildSucceeded'],
    wantPhase: 'Ready',
    check: () => {
      expect(status()).toMatchObject({ image: TAG, tag: TAG, buildDurationSeconds: 0 });
      expect(status()?.buildLog).toContain(`Successfully tagged ${TAG}`);
      expect(world.engine.contextBytes[0]).toBeGreaterThan(0);
    },
  },
  {
    name: 'the unchanged context already built → nothing built, Ready written once',
    spec: BUILD_SPEC,
    given: () => void world.engine.seed(TAG, NAME),
    wantLog: [],
    wantWrites: ['Ready/Ready'],
    wantPhase: 'Ready',
    check: () => expect(status()?.image).toBe(TAG),
  },
  {
    name: 'the unchanged context already built and Ready → nothing at all',
    spec: BUILD_SPEC,
    given: async () => {
      world.engine.seed(TAG, NAME);
      await world.reconciler.reconcile(NAME);
    },
    wantLog: [],
    wantWrites: [],
    wantPhase: 'Ready',
  },
  {
    name: 'a changed context → rebuilt; the build before it kept, older ones removed',
    spec: BUILD_SPEC,
    given: () => {
      world.engine.seed(tagOf(`sha256:${'c'.repeat(64)}`), NAME);
      world.engine.seed(tagOf(OTHER_DIGEST), NAME);
    },
    wantLog: [`build ${TAG}`, 'remove-image sha256:img1'],
    wantWrites: ['Building/Building', 'Ready/Built'],
    wantEvents: ['Normal BuildSucceeded'],
    wantPhase: 'Ready',
    check: () => expect(world.engine.has(tagOf(OTHER_DIGEST))).toBe(true),
  },
  {
    name: 'a changed context → rebuilt; an older build a kept Revision runs is kept too',
    spec: BUILD_SPEC,
    given: async () => {
      world.engine.seed(tagOf(`sha256:${'c'.repeat(64)}`), NAME);
      world.engine.seed(tagOf(OTHER_DIGEST), NAME);
      await storeRevision(tagOf(`sha256:${'c'.repeat(64)}`));
    },
    wantLog: [`build ${TAG}`],
    wantWrites: ['Building/Building', 'Ready/Built'],
    wantEvents: ['Normal BuildSucceeded'],
    wantPhase: 'Ready',
    check: () => expect(world.engine.has(tagOf(`sha256:${'c'.repeat(64)}`))).toBe(true),
  },
  {
    name: 'the Dockerfile fails → Failed, BuildFailed; the same input is not built again',
    spec: BUILD_SPEC,
    failures: () => world.engine.failOn('build', new BuildFailedError('COPY failed: no such file index.htm')),
    wantLog: [],
    wantWrites: ['Building/Building', 'Failed/BuildFailed'],
    wantEvents: ['Warning BuildFailed'],
    wantPhase: 'Failed',
    check: () => expect(findCondition(status()?.conditions, 'Ready')?.message).toContain('COPY failed'),
  },
  {
    name: 'the engine goes away mid-build → Pending, BuildRetrying, the error rethrown for the backoff',
    spec: BUILD_SPEC,
    failures: () =>
      world.engine.failOn(
        'build',
        new DockerUnavailableError('unix:///var/run/docker.sock', 'connect ECONNREFUSED'),
        1,
      ),
    wantError: /ECONNREFUSED/,
    wantLog: [],
    wantWrites: ['Building/Building', 'Pending/BuildRetrying'],
    wantPhase: 'Pending',
  },
  {
    name: 'deleted mid-build → the build cancelled, nothing tagged, nothing written after',
    spec: BUILD_SPEC,
    midBuild: async () => {
      await world.store.delete('Image', NAME);
      world.reconciler.cancelStaleBuild(NAME);
    },
    wantLog: [`build ${TAG}`],
    wantWrites: ['Building/Building'],
    check: () => {
      expect(world.engine.has(TAG)).toBe(false);
      expect(world.store.get('Image', NAME)).toBeUndefined();
    },
  },
  {
    name: 'given another context mid-build → the build cancelled, Pending, BuildCancelled',
    spec: BUILD_SPEC,
    midBuild: async () => {
      await uploadContext(OTHER_DIGEST);
      await applyImage(BUILD_SPEC, OTHER_DIGEST);
      world.reconciler.cancelStaleBuild(NAME);
    },
    wantLog: [`build ${TAG}`],
    wantWrites: ['Building/Building', 'Pending/BuildCancelled'],
    wantPhase: 'Pending',
    check: () => expect(world.engine.has(TAG)).toBe(false),
  },
  {
    name: 'no context uploaded → Failed, ContextMissing, no build',
    spec: BUILD_SPEC,
    noDigest: true,
    wantLog: [],
    wantWrites: ['Failed/ContextMissing'],
    wantPhase: 'Failed',
  },
  {
    name: 'the uploaded context no longer stored → Failed, ContextMissing, no build',
    spec: BUILD_SPEC,
    noContext: true,
    wantLog: [],
    wantWrites: ['Failed/ContextMissing'],
    wantPhase: 'Failed',
  },
  {
    name: 'a ref → pulled: Building (Pulling), then Ready',
    spec: { ref: 'nginx:1.27' },
    wantLog: ['pull nginx:1.27'],
    wantWrites: ['Building/Pulling', 'Ready/Pulled'],
    wantPhase: 'Ready',
    check: () => expect(status()?.image).toBe('nginx:1.27'),
  },
  {
    name: 'a ref that cannot be pulled → Failed, PullFailed, not pulled again',
    spec: { ref: 'missing:1' },
    wantLog: ['pull missing:1'],
    wantWrites: ['Building/Pulling', 'Failed/PullFailed'],
    wantPhase: 'Failed',
  },
  {
    name: 'the Image deleted → its builds removed',
    spec: null,
    given: () => {
      world.engine.seed(TAG, NAME);
      world.engine.seed('unrelated:1');
    },
    wantLog: ['remove-image sha256:img1'],
    wantWrites: [],
    check: () => expect(world.engine.has('unrelated:1')).toBe(true),
  },
  {
    name: 'the Image deleted → its builds removed, except one a kept Revision runs',
    spec: null,
    given: async () => {
      world.engine.seed(TAG, NAME);
      world.engine.seed(tagOf(OTHER_DIGEST), NAME);
      await storeRevision(TAG);
    },
    wantLog: ['remove-image sha256:img2'],
    wantWrites: [],
    check: () => expect(world.engine.has(TAG)).toBe(true),
  },
  {
    name: 'listing builds fails for a deleted Image → the error rethrown',
    spec: null,
    given: () => void world.engine.seed(TAG, NAME),
    failures: () => world.engine.failOn('listBuilt', new Error('engine timed out'), 1),
    wantError: /engine timed out/,
    wantLog: [],
    wantWrites: [],
  },
];

async function arrange(row: Row): Promise<void> {
  if (!row.noContext) await uploadContext(DIGEST);
  if (row.spec) await applyImage(row.spec, row.noDigest ? null : DIGEST);
  await row.given?.();
  clearCalls();
}

/** The reconcile under test; a `midBuild` row acts while the build is held, then lets it go. */
async function reconcileOnce(row: Row): Promise<ReconcileResult> {
  if (!row.midBuild) return world.reconciler.reconcile(NAME);
  const held = world.engine.holdBuilds();
  const outcome = world.reconciler.reconcile(NAME);
  await held.reached;
  await row.midBuild();
  held.release();
  return outcome;
}

describe('ImageReconciler', () => {
  describe.each(rows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    it('converges', async () => {
      await arrange(row);
      row.failures?.();
      const outcome = reconcileOnce(row);
      if (row.wantError) await expect(outcome).rejects.toThrow(row.wantError);
      else expect(await outcome).toEqual(row.wantResult);
      expect(world.engine.log).toEqual(row.wantLog);
      expect(world.writes).toEqual(row.wantWrites);
      expect(world.events).toEqual(row.wantEvents ?? []);
      if (row.wantPhase) expect(status()?.phase).toBe(row.wantPhase);
      row.check?.();
    });

    // A row that fails once or is interrupted converges on the reconcile after; the one after that does nothing.
    it('is idempotent: once converged, another reconcile calls, writes and records nothing', async () => {
      await arrange(row);
      row.failures?.();
      await reconcileOnce(row).catch(() => undefined);
      if (row.failures || row.midBuild) await world.reconciler.reconcile(NAME);
      const converged = status();
      clearCalls();

      await world.reconciler.reconcile(NAME);
      expect(world.engine.log).toEqual([]);
      expect(world.writes).toEqual([]);
      expect(world.events).toEqual([]);
      expect(status()).toEqual(converged);
    });
  });

  it('a transient failure is retried by the queue after its backoff, and then builds', async () => {
    const clock = new FakeClock();
    await uploadContext(DIGEST);
    await applyImage(BUILD_SPEC);
    world.engine.failOn('build', new DockerUnavailableError('unix:///var/run/docker.sock', 'connect ECONNREFUSED'), 1);
    const delays: number[] = [];
    const queue = new WorkQueue((key) => world.reconciler.reconcile(key), {
      clock,
      baseBackoffMs: 200,
      onError: (_key, _error, _attempt, delayMs) => delays.push(delayMs ?? -1),
    });
    queue.start();
    queue.add(NAME);
    // The reconcile writes status to disk: wait for it (in real time), while the fake clock stands still.
    await vi.waitFor(() => expect(delays).toEqual([200]));
    expect(status()?.phase).toBe('Pending');
    expect(world.engine.log).toEqual([]);

    await clock.advance(199);
    expect(world.engine.log).toEqual([]);
    await clock.advance(1);
    await vi.waitFor(() => expect(status()?.phase).toBe('Ready'));
    expect(world.engine.log).toEqual([`build ${TAG}`]);
    expect(delays).toEqual([200]);
    await queue.stop();
  });

  it('a build that keeps failing is not retried: no requeue, no error for the queue', async () => {
    await uploadContext(DIGEST);
    await applyImage(BUILD_SPEC);
    world.engine.failOn('build', new BuildFailedError('unknown instruction: FORM'));
    expect(await world.reconciler.reconcile(NAME)).toBeUndefined();
    for (let again = 0; again < 3; again++) await world.reconciler.reconcile(NAME);
    expect(world.writes).toEqual(['Building/Building', 'Failed/BuildFailed']);
  });
});

describe('ImageReconciler: builds a pruned revision let go of', () => {
  it('are collected by the next reconcile of a Ready image, with nothing to build', async () => {
    const held = tagOf(`sha256:${'c'.repeat(64)}`);
    world.engine.seed(held, NAME);
    world.engine.seed(tagOf(OTHER_DIGEST), NAME);
    world.engine.seed(TAG, NAME);
    await storeRevision(held);
    await applyImage(BUILD_SPEC);
    await world.reconciler.reconcile(NAME);
    expect(status()?.phase).toBe('Ready');
    // The current build, the one before it, and the one the kept revision runs.
    expect([held, tagOf(OTHER_DIGEST), TAG].map((tag) => world.engine.has(tag))).toEqual([true, true, true]);

    await world.store.delete('Revision', 'web-1');
    clearCalls();
    await world.reconciler.reconcile(NAME);
    expect(world.engine.log).toEqual([expect.stringMatching(/^remove-image /)]);
    expect(world.engine.has(held)).toBe(false);
    expect(world.engine.has(tagOf(OTHER_DIGEST))).toBe(true);
    expect(world.writes).toEqual([]);
  });
});
