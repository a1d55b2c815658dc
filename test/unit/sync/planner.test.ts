import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../../src/sync/inventory.js';
import { refKey, type ObjectRef } from '../../../src/sync/ownership.js';
import {
  intentInventory,
  nextInventory,
  planSync,
  resolvePending,
  type DeclaringFile,
  type PlanInput,
  type PruneGuard,
  type StoredObject,
} from '../../../src/sync/planner.js';

// The sync planner, table by table: what a pass applies, prunes and refuses, from the
// files, the inventory and the store's objects alone.

const GUARD: PruneGuard = { now: 1_000_000, emptyGracePeriodMs: 60_000, maxPruneShare: 0.5, force: false };

function project(name: string, at = `${name}.yaml:4:9`): DeclaringFile['objects'][number] {
  return { kind: 'Project', name, at };
}

/** A store holding these objects (name → uid, optionally the source-file annotation). */
function storeOf(objects: Record<string, StoredObject>): (ref: ObjectRef) => StoredObject | undefined {
  return (ref) => objects[refKey(ref)];
}

function plan(overrides: Partial<PlanInput>) {
  return planSync({
    directoryExists: true,
    declaring: [],
    refused: [],
    inventory: {},
    stored: storeOf({}),
    guard: GUARD,
    ...overrides,
  });
}

describe('planSync', () => {
  it('applies every declared object of every readable file and prunes nothing the first time', () => {
    const result = plan({
      declaring: [
        { file: 'a.yaml', objects: [project('a')] },
        { file: 'b.yaml', objects: [project('b')] },
      ],
    });
    expect(result.apply).toEqual([
      { file: 'a.yaml', objects: [{ kind: 'Project', name: 'a' }] },
      { file: 'b.yaml', objects: [{ kind: 'Project', name: 'b' }] },
    ]);
    expect(result.prune).toEqual([]);
    expect(result.conflicts).toEqual([]);
    expect(result.withheld).toBeUndefined();
  });

  it('prunes an owned object whose file is gone, and one that disappeared from its file', () => {
    const inventory: Inventory = {
      'gone.yaml': [{ kind: 'Project', name: 'g', uid: 'u-g' }],
      'kept.yaml': [
        { kind: 'Project', name: 'k', uid: 'u-k' },
        { kind: 'Project', name: 'x', uid: 'u-x' },
      ],
    };
    const stored = storeOf({
      'Project/g': { uid: 'u-g' },
      'Project/k': { uid: 'u-k' },
      'Project/x': { uid: 'u-x' },
      'Project/other': { uid: 'u-o' },
    });
    const result = plan({
      declaring: [{ file: 'kept.yaml', objects: [project('k')] }],
      inventory,
      stored,
      guard: { ...GUARD, maxPruneShare: 1 },
    });
    expect(result.prune.map(refKey).sort()).toEqual(['Project/g', 'Project/x']);
    expect(result.prune.find((entry) => entry.name === 'g')).toMatchObject({ uid: 'u-g', file: 'gone.yaml' });
  });

  it('keeps what a refused file declared last: not pruned, not applied', () => {
    const inventory: Inventory = { 'broken.yaml': [{ kind: 'Project', name: 'b', uid: 'u-b' }] };
    const result = plan({
      declaring: [{ file: 'good.yaml', objects: [project('g')] }],
      refused: ['broken.yaml'],
      inventory,
      stored: storeOf({ 'Project/b': { uid: 'u-b' } }),
    });
    expect(result.prune).toEqual([]);
    expect(result.apply.map((entry) => entry.file)).toEqual(['good.yaml']);
  });

  it('never prunes an object the CLI or API applied, even one that carries a source-file annotation', () => {
    // Not in the inventory at all.
    const stored = storeOf({ 'Project/cli': { uid: 'u-cli', sourceFile: 'a.yaml' }, 'Project/mine': { uid: 'u-m' } });
    const result = plan({
      declaring: [{ file: 'a.yaml', objects: [project('mine')] }],
      inventory: { 'a.yaml': [{ kind: 'Project', name: 'mine', uid: 'u-m' }] },
      stored,
    });
    expect(result.prune).toEqual([]);
  });

  it('does not prune an object re-created meanwhile under the same name by someone else (another uid)', () => {
    const result = plan({
      inventory: { 'a.yaml': [{ kind: 'Project', name: 'a', uid: 'old' }] },
      declaring: [{ file: 'b.yaml', objects: [project('b')] }],
      stored: storeOf({ 'Project/a': { uid: 'new' } }),
    });
    expect(result.prune).toEqual([]);
  });

  it('refuses to take over an object that exists but was not created from the directory', () => {
    const result = plan({
      declaring: [{ file: 'a.yaml', objects: [project('cli', 'm/a.yaml:4:9'), project('new')] }],
      stored: storeOf({ 'Project/cli': { uid: 'u-cli' } }),
    });
    expect(result.apply).toEqual([{ file: 'a.yaml', objects: [{ kind: 'Project', name: 'new' }] }]);
    expect(result.conflicts).toHaveLength(1);
    expect(result.conflicts[0]?.message).toMatch(
      /^m\/a\.yaml:4:9: Project "cli" already exists and was not created from the manifests directory/,
    );
  });

  it('applies an object declared in two files from neither, names both, and does not prune it', () => {
    const inventory: Inventory = { 'a.yaml': [{ kind: 'Project', name: 'dup', uid: 'u-d' }] };
    const result = plan({
      declaring: [
        { file: 'a.yaml', objects: [project('dup', 'm/a.yaml:4:9'), project('a')] },
        { file: 'b.yaml', objects: [project('dup', 'm/b.yaml:7:9')] },
      ],
      inventory,
      stored: storeOf({ 'Project/dup': { uid: 'u-d' } }),
    });
    expect(result.apply).toEqual([
      { file: 'a.yaml', objects: [{ kind: 'Project', name: 'a' }] },
      { file: 'b.yaml', objects: [] },
    ]);
    expect(result.conflicts).toEqual([
      {
        ref: { kind: 'Project', name: 'dup' },
        files: ['a.yaml', 'b.yaml'],
        message: expect.stringContaining('m/a.yaml:4:9 and m/b.yaml:7:9') as string,
      },
    ]);
    expect(result.prune).toEqual([]);
  });

  it('moves an object to the file that declares it now (a rename) without pruning it', () => {
    const inventory: Inventory = { 'old.yaml': [{ kind: 'Project', name: 'a', uid: 'u-a' }] };
    const result = plan({
      declaring: [{ file: 'new.yaml', objects: [project('a')] }],
      inventory,
      stored: storeOf({ 'Project/a': { uid: 'u-a', sourceFile: 'old.yaml' } }),
    });
    expect(result.conflicts).toEqual([]);
    expect(result.prune).toEqual([]);
    expect(result.apply).toEqual([{ file: 'new.yaml', objects: [{ kind: 'Project', name: 'a' }] }]);
  });

  describe('an emptied or missing directory', () => {
    const inventory: Inventory = {
      'a.yaml': [{ kind: 'Project', name: 'a', uid: 'u-a' }],
      'b.yaml': [{ kind: 'Project', name: 'b', uid: 'u-b' }],
    };
    const stored = storeOf({ 'Project/a': { uid: 'u-a' }, 'Project/b': { uid: 'u-b' } });

    it.each([
      ['empty', true],
      ['missing', false],
    ])('prunes nothing while %s for less than the grace period, and says when it will look again', (word, exists) => {
      const first = plan({ directoryExists: exists, inventory, stored });
      expect(first.prune).toEqual([]);
      expect(first.withheld?.objects.map(refKey)).toEqual(['Project/a', 'Project/b']);
      expect(first.withheld?.reason).toContain(`is ${word} since`);
      expect(first.emptySince).toBe(GUARD.now);
      expect(first.recheckAt).toBe(GUARD.now + GUARD.emptyGracePeriodMs);

      const later = plan({
        directoryExists: exists,
        inventory,
        stored,
        guard: { ...GUARD, now: GUARD.now + 59_999, emptySince: GUARD.now },
      });
      expect(later.prune).toEqual([]);
      expect(later.emptySince).toBe(GUARD.now);
    });

    it('prunes everything once the grace period has passed (the share guard does not apply then)', () => {
      const result = plan({
        directoryExists: true,
        inventory,
        stored,
        guard: { ...GUARD, now: GUARD.now + 60_000, emptySince: GUARD.now },
      });
      expect(result.prune.map(refKey)).toEqual(['Project/a', 'Project/b']);
      expect(result.withheld).toBeUndefined();
    });

    it('prunes at once when forced', () => {
      const result = plan({ directoryExists: false, inventory, stored, guard: { ...GUARD, force: true } });
      expect(result.prune.map(refKey)).toEqual(['Project/a', 'Project/b']);
    });

    it('forgets the empty clock as soon as a file is back', () => {
      const result = plan({
        declaring: [{ file: 'a.yaml', objects: [project('a')] }],
        inventory,
        stored,
        guard: { ...GUARD, emptySince: GUARD.now - 10 },
      });
      expect(result.emptySince).toBeUndefined();
    });
  });

  describe('the share guard', () => {
    const names = ['a', 'b', 'c', 'd'];
    const inventory: Inventory = Object.fromEntries(
      names.map((name) => [`${name}.yaml`, [{ kind: 'Project' as const, name, uid: `u-${name}` }]]),
    );
    const stored = storeOf(Object.fromEntries(names.map((name) => [`Project/${name}`, { uid: `u-${name}` }])));
    const keeping = (kept: string[]): DeclaringFile[] =>
      kept.map((name) => ({ file: `${name}.yaml`, objects: [project(name)] }));

    it('prunes up to the share of owned objects in one pass', () => {
      expect(plan({ declaring: keeping(['a', 'b']), inventory, stored }).prune.map(refKey)).toEqual([
        'Project/c',
        'Project/d',
      ]);
    });

    it('prunes nothing when a pass would prune more than the share, and says so', () => {
      const result = plan({ declaring: keeping(['a']), inventory, stored });
      expect(result.prune).toEqual([]);
      expect(result.withheld?.reason).toMatch(
        /would prune 3 of the 4 objects the directory owns, more than sync.maxPruneShare \(0.5\)/,
      );
    });

    it('always allows one prune, so a directory of one or two objects can lose one', () => {
      const two: Inventory = { 'a.yaml': inventory['a.yaml'] ?? [], 'b.yaml': inventory['b.yaml'] ?? [] };
      expect(
        plan({ declaring: keeping(['a']), inventory: two, stored, guard: { ...GUARD, maxPruneShare: 0.1 } }).prune.map(
          refKey,
        ),
      ).toEqual(['Project/b']);
    });

    it('is lifted by force', () => {
      expect(
        plan({ declaring: keeping(['a']), inventory, stored, guard: { ...GUARD, force: true } }).prune,
      ).toHaveLength(3);
    });
  });
});

describe('inventories', () => {
  it('the intent lists objects about to be created, without uids, beside what is owned', () => {
    const previous: Inventory = { 'a.yaml': [{ kind: 'Project', name: 'a', uid: 'u-a' }] };
    const stored = storeOf({ 'Project/a': { uid: 'u-a' } });
    const result = plan({
      declaring: [{ file: 'a.yaml', objects: [project('a'), project('n')] }],
      inventory: previous,
      stored,
    });
    expect(intentInventory(previous, result, stored)).toEqual({
      'a.yaml': [
        { kind: 'Project', name: 'a', uid: 'u-a' },
        { kind: 'Project', name: 'n' },
      ],
    });
  });

  it('after a crash, an object created by the interrupted pass is the directory’s (it names the file); a foreign one is not', () => {
    const intent: Inventory = {
      'a.yaml': [
        { kind: 'Project', name: 'made' },
        { kind: 'Project', name: 'forged' },
        { kind: 'Project', name: 'never' },
      ],
    };
    const stored = storeOf({
      'Project/made': { uid: 'u-made', sourceFile: 'a.yaml' },
      'Project/forged': { uid: 'u-f', sourceFile: 'other.yaml' },
    });
    expect(resolvePending(intent, stored)).toEqual({ 'a.yaml': [{ kind: 'Project', name: 'made', uid: 'u-made' }] });
    // And such an object, while still pending, is not taken for a foreign one.
    expect(
      plan({ declaring: [{ file: 'a.yaml', objects: [project('made')] }], inventory: intent, stored }).conflicts,
    ).toEqual([]);
  });

  it('after a pass: applied files list what they wrote; failed and refused files, conflicts and withheld prunes keep theirs; pruned objects go', () => {
    const intent: Inventory = {
      'applied.yaml': [
        { kind: 'Project', name: 'old', uid: 'u-old' },
        { kind: 'Project', name: 'dup', uid: 'u-dup' },
      ],
      'failed.yaml': [
        { kind: 'Project', name: 'f', uid: 'u-f' },
        { kind: 'Project', name: 'fnew' },
      ],
      'refused.yaml': [{ kind: 'Project', name: 'r', uid: 'u-r' }],
      'gone.yaml': [{ kind: 'Project', name: 'g', uid: 'u-g' }],
    };
    const result = plan({
      declaring: [
        { file: 'applied.yaml', objects: [project('new'), project('dup')] },
        { file: 'other.yaml', objects: [project('dup')] },
      ],
      refused: ['refused.yaml'],
      inventory: intent,
      stored: storeOf({
        'Project/old': { uid: 'u-old' },
        'Project/dup': { uid: 'u-dup' },
        'Project/f': { uid: 'u-f' },
        'Project/r': { uid: 'u-r' },
        'Project/g': { uid: 'u-g' },
      }),
      guard: { ...GUARD, force: true },
    });
    const next = nextInventory(
      intent,
      result,
      [
        { file: 'applied.yaml', applied: [{ kind: 'Project', name: 'new', uid: 'u-new' }] },
        { file: 'failed.yaml', failed: true },
        { file: 'other.yaml', applied: [] },
      ],
      [
        { kind: 'Project', name: 'old' },
        { kind: 'Project', name: 'g' },
      ],
    );
    expect(next).toEqual({
      'applied.yaml': [
        { kind: 'Project', name: 'new', uid: 'u-new' },
        { kind: 'Project', name: 'dup', uid: 'u-dup' },
      ],
      'failed.yaml': [
        { kind: 'Project', name: 'f', uid: 'u-f' },
        { kind: 'Project', name: 'fnew' },
      ],
      'refused.yaml': [{ kind: 'Project', name: 'r', uid: 'u-r' }],
    });
  });
});
