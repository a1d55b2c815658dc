import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../../src/sync/inventory.js';
import type { PlannedPrune } from '../../../src/sync/planner.js';
import { keepUnpruned, PruneConfirmation } from '../../../src/sync/prune-confirmation.js';

// The second look before a prune: an object gone from a file that still exists goes only if
// a pass one window later still misses it; one whose file is gone goes at once. Time is
// whatever the test says.

const WINDOW = 2_000;
const B: PlannedPrune = { kind: 'Project', name: 'b', uid: 'u-b', file: 'f.yaml' };
const GONE: PlannedPrune = { kind: 'Project', name: 'g', uid: 'u-g', file: 'gone.yaml' };
const FILES = new Set(['f.yaml']);

describe('PruneConfirmation', () => {
  it('prunes at once what a removed file declared', () => {
    expect(new PruneConfirmation(WINDOW).review([GONE], { now: 0, existingFiles: FILES })).toEqual({
      confirmed: [GONE],
      waiting: [],
    });
  });

  it('waits a window before pruning what is missing from a file that still exists, and says when it looks again', () => {
    const confirmation = new PruneConfirmation(WINDOW);
    expect(confirmation.review([B], { now: 1_000, existingFiles: FILES })).toEqual({
      confirmed: [],
      waiting: [B],
      recheckAt: 3_000,
    });
    expect(confirmation.review([B], { now: 2_999, existingFiles: FILES })).toEqual({
      confirmed: [],
      waiting: [B],
      recheckAt: 3_000,
    });
    expect(confirmation.review([B], { now: 3_000, existingFiles: FILES })).toEqual({ confirmed: [B], waiting: [] });
  });

  it('starts over when the object is declared again in between (the second half arrived)', () => {
    const confirmation = new PruneConfirmation(WINDOW);
    confirmation.review([B], { now: 0, existingFiles: FILES });
    confirmation.review([], { now: 1_000, existingFiles: FILES });
    expect(confirmation.review([B], { now: 2_500, existingFiles: FILES })).toEqual({
      confirmed: [],
      waiting: [B],
      recheckAt: 4_500,
    });
  });

  it('treats another object of the same name (a new uid) as a new miss, and prunes at once with a window of 0', () => {
    const confirmation = new PruneConfirmation(WINDOW);
    confirmation.review([B], { now: 0, existingFiles: FILES });
    const other = { ...B, uid: 'u-b2' };
    expect(confirmation.review([other], { now: 5_000, existingFiles: FILES }).waiting).toEqual([other]);
    expect(new PruneConfirmation(0).review([B], { now: 0, existingFiles: FILES }).confirmed).toEqual([B]);
  });
});

describe('keepUnpruned', () => {
  it('keeps in the inventory what was not pruned although its file applied without it', () => {
    const intent: Inventory = {
      'f.yaml': [
        { kind: 'Project', name: 'a', uid: 'u-a' },
        { kind: 'Project', name: 'b', uid: 'u-b' },
      ],
    };
    const next: Inventory = { 'f.yaml': [{ kind: 'Project', name: 'a', uid: 'u-a' }] };
    expect(keepUnpruned(next, intent, [B])).toEqual(intent);
    // Already listed (under any file): not twice.
    expect(keepUnpruned(intent, intent, [B])).toEqual(intent);
    expect(keepUnpruned(next, intent, [])).toEqual(next);
  });
});
