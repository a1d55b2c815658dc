import { describe, expect, it } from 'vitest';
import { DirectorySyncGroup } from '../../../src/util/directory-sync.js';

/** A sync function whose calls stay open until released, one by one. */
function controlledSync(): {
  syncNow: (dir: string) => Promise<void>;
  calls: string[];
  release: (error?: Error) => void;
} {
  const calls: string[] = [];
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  return {
    calls,
    syncNow: (dir) =>
      new Promise<void>((resolve, reject) => {
        calls.push(dir);
        pending.push({ resolve, reject });
      }),
    release: (error) => {
      const next = pending.shift();
      if (error) next?.reject(error);
      else next?.resolve();
    },
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DirectorySyncGroup', () => {
  it('runs one sync for callers that arrive before it begins', async () => {
    const sync = controlledSync();
    const group = new DirectorySyncGroup(sync.syncNow);
    const all = Promise.all([group.sync('/a'), group.sync('/a'), group.sync('/a')]);
    await tick();
    sync.release();
    await all;
    expect(sync.calls).toEqual(['/a']);
  });

  it('gives a caller that arrives during a sync a later one, shared with the others that wait', async () => {
    const sync = controlledSync();
    const group = new DirectorySyncGroup(sync.syncNow);
    const first = group.sync('/a');
    await tick();
    let laterDone = false;
    const later = Promise.all([group.sync('/a'), group.sync('/a')]).then(() => (laterDone = true));
    sync.release();
    await first;
    await tick();
    // The first sync may have begun before the later callers' renames: it does not count for them.
    expect(laterDone).toBe(false);
    expect(sync.calls).toEqual(['/a', '/a']);
    sync.release();
    await later;
  });

  it('keeps directories apart and reports a failed sync to everyone who shared it', async () => {
    const sync = controlledSync();
    const group = new DirectorySyncGroup(sync.syncNow);
    const a = Promise.allSettled([group.sync('/a'), group.sync('/a')]);
    const b = group.sync('/b');
    await tick();
    expect(sync.calls).toEqual(['/a', '/b']);
    sync.release(new Error('EIO'));
    sync.release();
    expect((await a).map((result) => result.status)).toEqual(['rejected', 'rejected']);
    await b;
    // A failure does not stick: the next caller gets a sync of its own.
    const again = group.sync('/a');
    await tick();
    sync.release();
    await again;
    expect(sync.calls).toEqual(['/a', '/b', '/a']);
  });
});
