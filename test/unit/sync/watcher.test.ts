import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SyncStatus } from '../../../src/sync/sync-status.js';
import { isConfigMapPath, leadsBackUp, ManifestWatcher, type SyncPasses } from '../../../src/sync/watcher.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeClock, settle } from '../../support/fakes/fake-clock.js';

// When passes run: debounced after changes, at the end of an empty directory's grace
// period, and while the directory is missing, when it appears. Time is a fake clock;
// the directory never exists here, so no file system watcher is started.

class CountingPasses implements SyncPasses {
  passes: Array<{ force: boolean }> = [];
  retryAt: number | undefined;

  pass(options: { force?: boolean } = {}): Promise<SyncStatus> {
    this.passes.push({ force: options.force ?? false });
    return Promise.resolve({
      directory: '/nowhere',
      exists: false,
      phase: 'Synced',
      passes: this.passes.length,
      files: [],
      conflicts: [],
      pruned: [],
    });
  }

  recheckAt(): number | undefined {
    return this.retryAt;
  }
}

function watcherWith(passes: CountingPasses, clock: FakeClock): ManifestWatcher {
  return new ManifestWatcher({
    dir: '/nowhere/luma-manifests-that-do-not-exist',
    sync: passes,
    debounceMs: 100,
    logger: silentLogger(),
    clock,
    missingPollMs: 1_000_000,
  });
}

describe('ManifestWatcher', () => {
  it('runs one pass for a burst of changes, once they have been quiet for the debounce', async () => {
    const clock = new FakeClock();
    const passes = new CountingPasses();
    const watcher = watcherWith(passes, clock);
    for (let i = 0; i < 50; i++) {
      watcher.changed();
      await clock.advance(50);
    }
    expect(passes.passes).toHaveLength(0);
    // The last change was 50 ms ago.
    await clock.advance(49);
    expect(passes.passes).toHaveLength(0);
    await clock.advance(1);
    expect(passes.passes).toHaveLength(1);
    await watcher.stop();
  });

  it('looks again when a withheld prune’s grace period ends, without any change', async () => {
    const clock = new FakeClock(1_000);
    const passes = new CountingPasses();
    passes.retryAt = 61_000;
    const watcher = watcherWith(passes, clock);
    await watcher.start();
    expect(passes.passes).toHaveLength(1);
    passes.retryAt = undefined;
    await clock.advance(59_999);
    expect(passes.passes).toHaveLength(1);
    await clock.advance(2);
    expect(passes.passes).toHaveLength(2);
    await watcher.stop();
  });

  it('passes force through for a pass asked for now, and runs nothing after stop', async () => {
    const clock = new FakeClock();
    const passes = new CountingPasses();
    const watcher = watcherWith(passes, clock);
    await watcher.passNow({ force: true });
    expect(passes.passes).toEqual([{ force: true }]);
    watcher.changed();
    await watcher.stop();
    await clock.advance(10_000);
    await settle();
    expect(passes.passes).toHaveLength(1);
  });
});

describe('what the watcher follows', () => {
  it.each([
    ['..data', true],
    ['..data/app.yaml', true],
    ['cm/..2026_12_07_10_00_00.1/app.yaml', true],
    ['app.yaml', false],
    ['.git/HEAD', false],
    ['.git/..data', false],
    ['../outside.yaml', false],
  ])('%s is inside a ConfigMap mount: %s', (relative, expected) => {
    expect(isConfigMapPath(relative)).toBe(expected);
  });

  it('does not follow a link back into a directory it watches, and follows one elsewhere', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'luma-watch-'));
    try {
      await mkdir(path.join(root, 'dir', 'sub'), { recursive: true });
      await mkdir(path.join(root, 'shared'));
      await symlink('..', path.join(root, 'dir', 'sub', 'up'));
      await symlink('../shared', path.join(root, 'dir', 'shared'));
      const dir = path.join(root, 'dir');
      expect(leadsBackUp(dir, path.join(dir, 'sub', 'up'))).toBe(true);
      expect(leadsBackUp(dir, path.join(dir, 'shared'))).toBe(false);
      expect(leadsBackUp(dir, path.join(dir, 'sub'))).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
