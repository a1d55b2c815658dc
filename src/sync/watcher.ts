import { realpathSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { errorMessage } from '../util/error-message.js';
import { errorCode } from '../util/atomic-file.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { isHiddenPath, isManifestPath } from './scan.js';
import { MAX_DEPTH } from './walk.js';
import type { SyncStatus } from './sync-status.js';

// Decides when the watched directory is read again: once at start, then after file system
// changes (chokidar), gathered for `debounceMs` after the last one so that a `git pull`
// touching fifty files is one pass. A directory that is missing is looked for every
// `missingPollMs` (chokidar cannot watch what does not exist), and a prune held back for
// an empty directory's grace period is looked at again when that period ends.

export interface SyncPasses {
  pass(options?: { force?: boolean }): Promise<SyncStatus>;
  /** When a pass should run although nothing changed. */
  recheckAt(): number | undefined;
}

export interface ManifestWatcherOptions {
  dir: string;
  sync: SyncPasses;
  debounceMs: number;
  logger: Logger;
  clock?: Clock;
  missingPollMs?: number;
}

const DEFAULT_MISSING_POLL_MS = 1_000;

export class ManifestWatcher {
  private watcher: FSWatcher | undefined;
  private debounce: unknown;
  private recheck: unknown;
  private missingPoll: unknown;
  private stopped = false;
  /** The directory itself was removed: a directory at that path later is another one to watch. */
  private rootRemoved = false;
  private readonly clock: Clock;

  constructor(private readonly options: ManifestWatcherOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** The first pass runs before this resolves: objects declared at start exist when the controller starts. */
  async start(): Promise<SyncStatus> {
    const status = await this.options.sync.pass();
    await this.follow(status);
    return status;
  }

  /** A file changed: a pass runs once changes have been quiet for debounceMs. */
  changed(): void {
    if (this.stopped) return;
    if (this.debounce !== undefined) this.clock.clearTimeout(this.debounce);
    this.debounce = this.clock.setTimeout(() => {
      this.debounce = undefined;
      void this.runPass();
    }, this.options.debounceMs);
  }

  /** A pass now, e.g. one asked for through the API with `force`. */
  async passNow(options: { force?: boolean } = {}): Promise<SyncStatus> {
    const status = await this.options.sync.pass(options);
    await this.follow(status);
    return status;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.debounce, this.recheck, this.missingPoll])
      if (timer !== undefined) this.clock.clearTimeout(timer);
    await this.watcher?.close();
    this.watcher = undefined;
  }

  private async runPass(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.follow(await this.options.sync.pass());
    } catch (error) {
      this.options.logger.error({ err: errorMessage(error) }, 'manifests directory pass failed');
    }
  }

  /** After each pass: watch the directory if it exists, poll for it if not, and schedule the grace period's end. */
  private async follow(status: SyncStatus): Promise<void> {
    if (this.stopped) return;
    if (status.exists) {
      if (this.rootRemoved) {
        // Removed and created again between two passes (`rm -rf dir && git clone … dir`).
        await this.watcher?.close();
        this.watcher = undefined;
        this.rootRemoved = false;
      }
      if (!this.watcher) this.watcher = this.watch();
    } else {
      await this.watcher?.close();
      this.watcher = undefined;
      this.pollForDirectory();
    }
    if (this.recheck !== undefined) this.clock.clearTimeout(this.recheck);
    this.recheck = undefined;
    const at = this.options.sync.recheckAt();
    if (at !== undefined) {
      this.recheck = this.clock.setTimeout(
        () => {
          this.recheck = undefined;
          void this.runPass();
        },
        Math.max(0, at - this.clock.now()) + 1,
      );
    }
  }

  private watch(): FSWatcher {
    const { dir } = this.options;
    const watcher = watch(dir, {
      ignoreInitial: true,
      // .git and editors' hidden files: never manifests, and .git alone can hold thousands of files.
      // A ConfigMap's `..data` is watched although hidden: swapping it changes what its visible links read.
      // Symbolic links are followed (chokidar's default), but not back into a directory being
      // watched: chokidar would follow `loop -> .` until the system says ELOOP, forty levels down.
      ignored: (file: string, stats?: Stats) =>
        (isHiddenPath(path.relative(dir, file)) && !isConfigMapPath(path.relative(dir, file))) ||
        (stats?.isDirectory() === true && leadsBackUp(dir, file)),
      depth: MAX_DEPTH,
    });
    watcher.on('all', (event, file) => {
      const relative = path.relative(dir, file);
      if (event === 'unlinkDir' && relative === '') this.rootRemoved = true;
      if (event === 'addDir' || event === 'unlinkDir' || isManifestPath(relative) || isConfigMapPath(relative))
        this.changed();
    });
    // Files written between the first pass's scan and the watcher being ready would
    // otherwise wait for the next change.
    watcher.once('ready', () => this.changed());
    // A link that loops on itself is reported by the pass, for its file.
    watcher.on('error', (error) => {
      if (errorCode(error) !== 'ELOOP')
        this.options.logger.warn({ err: errorMessage(error), dir }, 'watching the manifests directory failed');
    });
    return watcher;
  }

  private pollForDirectory(): void {
    if (this.missingPoll !== undefined || this.stopped) return;
    this.missingPoll = this.clock.setTimeout(() => {
      this.missingPoll = undefined;
      void stat(this.options.dir).then(
        (info) => (info.isDirectory() ? this.runPass() : this.pollForDirectory()),
        () => this.pollForDirectory(),
      );
    }, this.options.missingPollMs ?? DEFAULT_MISSING_POLL_MS);
  }
}

/**
 * Inside a Kubernetes ConfigMap mount: `..data` (a symlink swapped by rename on update) and the
 * `..2026_12_07_…` folders it points to. Hidden, so never read as manifests themselves.
 */
export function isConfigMapPath(relative: string): boolean {
  const segments = relative.split(/[\\/]/);
  return (
    segments.some((segment) => segment.startsWith('..') && segment !== '..') &&
    segments.every((segment) => !segment.startsWith('.') || segment.startsWith('..'))
  );
}

/** A directory below `root` that is `root` or one of its own ancestors below it, reached again through a link. */
export function leadsBackUp(root: string, dir: string): boolean {
  const real = realpathOrUndefined(dir);
  if (real === undefined) return false;
  const segments = path
    .relative(root, dir)
    .split(path.sep)
    .filter((segment) => segment !== '');
  let ancestor = root;
  for (let index = 0; index < segments.length; index++) {
    if (realpathOrUndefined(ancestor) === real) return true;
    ancestor = path.join(ancestor, segments[index] ?? '');
  }
  return false;
}

function realpathOrUndefined(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}
