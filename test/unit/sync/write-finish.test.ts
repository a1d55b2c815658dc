import { describe, expect, it } from 'vitest';
import { awaitWriteFinish, type FileMark } from '../../../src/sync/write-finish.js';
import { FakeClock, settle } from '../../support/fakes/fake-clock.js';

// When a file counts as finished: still (size, mtime, ctime) for the whole window, judged by
// its own times or by a second look one window later. The file system is a map of marks and
// time a fake clock, so a write can land exactly while the first look waits.

const WINDOW = 2_000;

class FakeFiles {
  readonly marks = new Map<string, FileMark>();

  write(file: string, at: number, size: number): void {
    this.marks.set(file, { size, mtimeMs: at, ctimeMs: at });
  }

  stat = (file: string): Promise<FileMark | undefined> => Promise.resolve(this.marks.get(file));
}

describe('awaitWriteFinish', () => {
  it('takes a file still for the whole window at once, without waiting', async () => {
    const clock = new FakeClock(10_000);
    const files = new FakeFiles();
    files.write('old.yaml', 10_000 - WINDOW, 100);
    const result = await awaitWriteFinish(['old.yaml'], { windowMs: WINDOW, clock, stat: files.stat });
    expect([...result.finished.keys()]).toEqual(['old.yaml']);
    expect(result.writing).toEqual([]);
  });

  it('looks at a recent file again when its window ends: still, it is finished', async () => {
    const clock = new FakeClock(10_000);
    const files = new FakeFiles();
    files.write('new.yaml', 9_500, 100);
    let done = false;
    const pending = awaitWriteFinish(['new.yaml'], { windowMs: WINDOW, clock, stat: files.stat }).then(
      (result) => ((done = true), result),
    );
    await settle();
    await clock.advance(1_499);
    expect(done).toBe(false);
    await clock.advance(1);
    const result = await pending;
    expect([...result.finished.keys()]).toEqual(['new.yaml']);
  });

  it('a file written again while it is watched (the second half of `cat A > f; sleep 1; cat B >> f`) is still being written', async () => {
    const clock = new FakeClock(10_000);
    const files = new FakeFiles();
    files.write('f.yaml', 10_000, 100);
    const pending = awaitWriteFinish(['f.yaml'], { windowMs: WINDOW, clock, stat: files.stat });
    await settle();
    await clock.advance(1_000);
    files.write('f.yaml', 11_000, 200);
    await clock.advance(1_000);
    expect(await pending).toEqual({ finished: new Map(), writing: ['f.yaml'], gone: [] });
  });

  it('counts a recent ctime although the mtime is old (`cp -p`, `touch -d`), and waits one window for times ahead of the clock', async () => {
    const clock = new FakeClock(10_000);
    const files = new FakeFiles();
    files.marks.set('copied.yaml', { size: 10, mtimeMs: 1_000, ctimeMs: 9_900 });
    files.write('skewed.yaml', 60_000, 10);
    let done = false;
    const pending = awaitWriteFinish(['copied.yaml', 'skewed.yaml'], {
      windowMs: WINDOW,
      clock,
      stat: files.stat,
    }).then((result) => ((done = true), result));
    await settle();
    await clock.advance(WINDOW - 1);
    expect(done).toBe(false);
    await clock.advance(1);
    expect([...(await pending).finished.keys()].sort()).toEqual(['copied.yaml', 'skewed.yaml']);
  });

  it('waits once for all recent files, reports files gone meanwhile, and reads at once with a window of 0', async () => {
    const clock = new FakeClock(10_000);
    const files = new FakeFiles();
    files.write('a.yaml', 9_000, 1);
    files.write('b.yaml', 9_800, 1);
    const pending = awaitWriteFinish(['a.yaml', 'b.yaml', 'never.yaml'], { windowMs: WINDOW, clock, stat: files.stat });
    await settle();
    expect(clock.pendingTimers()).toBe(1);
    files.marks.delete('a.yaml');
    await clock.advance(1_800);
    expect(await pending).toEqual({
      finished: new Map([['b.yaml', files.marks.get('b.yaml')]]),
      writing: [],
      gone: ['never.yaml', 'a.yaml'],
    });

    const immediate = await awaitWriteFinish(['b.yaml'], { windowMs: 0, clock, stat: files.stat });
    expect([...immediate.finished.keys()]).toEqual(['b.yaml']);
  });
});
