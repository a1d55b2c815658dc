import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RevisionIndex } from '../../../src/controller/revision-index.js';
import { API_VERSION, type RevisionObject } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';

// The index answers "which revisions has this project" from the store's watch, without
// listing every stored revision on each question (a converge asks it every time).

function revision(project: string, number: number, uid = `uid-${project}`): RevisionObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Revision',
    metadata: { name: `${project}-${number}` },
    spec: { project, projectUid: uid, number, image: 'hello:latest', template: {} },
  };
}

const names = (revisions: RevisionObject[]): string[] => revisions.map((item) => item.metadata.name).sort();

describe('RevisionIndex', () => {
  let dir: string;
  let store: FileStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'luma-revision-index-'));
    store = await FileStore.open(dir);
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds what was stored before it was made, per project, even where names share a prefix', async () => {
    for (const item of [revision('a', 1), revision('a', 2), revision('a-1', 1), revision('b', 1)])
      await store.apply(item);
    const index = new RevisionIndex(store);
    expect(names(index.of('a'))).toEqual(['a-1', 'a-2']);
    expect(names(index.of('a-1'))).toEqual(['a-1-1']);
    expect(index.of('nobody')).toEqual([]);
    index.close();
  });

  it('follows creates and deletes after it was made, and stops following when closed', async () => {
    const index = new RevisionIndex(store);
    await store.apply(revision('a', 1));
    await store.apply(revision('a', 2));
    expect(names(index.of('a'))).toEqual(['a-1', 'a-2']);
    await store.delete('Revision', 'a-1');
    expect(names(index.of('a'))).toEqual(['a-2']);
    await store.delete('Revision', 'a-2');
    expect(index.of('a')).toEqual([]);
    index.close();
    await store.apply(revision('a', 3));
    expect(index.of('a')).toEqual([]);
  });

  it('reads one object per revision of the project, never the whole list', async () => {
    for (let number = 1; number <= 50; number += 1) await store.apply(revision(`p${number}`, 1));
    const index = new RevisionIndex(store);
    const list = vi.spyOn(store, 'list');
    const get = vi.spyOn(store, 'get');
    expect(names(index.of('p7'))).toEqual(['p7-1']);
    expect(list).not.toHaveBeenCalled();
    expect(get).toHaveBeenCalledTimes(1);
    index.close();
  });
});
