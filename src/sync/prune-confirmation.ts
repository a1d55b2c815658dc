import type { Inventory } from './inventory.js';
import { refKey, sameRef } from './ownership.js';
import type { PlannedPrune } from './planner.js';

// The second look before a prune. An object whose file is gone is pruned at once (a
// rename is caught by the planner: the new file declares it). An object gone from a file
// that still exists may be the half of the file not written yet, so it is pruned only when
// a pass at least `windowMs` after the first one that missed it still misses it. Pure: the
// time comes from the caller.

export interface PruneReview {
  /** Pruned in this pass. */
  confirmed: PlannedPrune[];
  /** Missing from a file that still exists, not long enough: kept, looked at again at `recheckAt`. */
  waiting: PlannedPrune[];
  recheckAt?: number;
}

export class PruneConfirmation {
  /** `Kind/name/uid` → when a pass first found it missing from its existing file. */
  private readonly missingSince = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  review(candidates: PlannedPrune[], options: { now: number; existingFiles: ReadonlySet<string> }): PruneReview {
    const review: PruneReview = { confirmed: [], waiting: [] };
    const seen = new Set<string>();
    for (const candidate of candidates) {
      if (this.windowMs <= 0 || !options.existingFiles.has(candidate.file)) {
        review.confirmed.push(candidate);
        continue;
      }
      const key = `${refKey(candidate)}/${candidate.uid}`;
      seen.add(key);
      const since = this.missingSince.get(key) ?? options.now;
      this.missingSince.set(key, since);
      if (options.now - since >= this.windowMs) {
        review.confirmed.push(candidate);
        continue;
      }
      review.waiting.push(candidate);
      review.recheckAt = Math.min(review.recheckAt ?? Infinity, since + this.windowMs);
    }
    // Declared again (the rest of the file arrived), or pruned: a later miss starts over.
    for (const key of this.missingSince.keys()) if (!seen.has(key)) this.missingSince.delete(key);
    for (const pruned of review.confirmed) this.missingSince.delete(`${refKey(pruned)}/${pruned.uid}`);
    return review;
  }
}

/**
 * The inventory after a pass must still own what was planned for pruning but not pruned
 * (waiting for the second look, or withheld by a guard), also when its file applied and
 * lists only what it declares now: otherwise the object would be nobody's, and never pruned.
 */
export function keepUnpruned(next: Inventory, intent: Inventory, unpruned: PlannedPrune[]): Inventory {
  const kept: Inventory = structuredClone(next);
  for (const object of unpruned) {
    const entry = (intent[object.file] ?? []).find(
      (candidate) => sameRef(candidate, object) && candidate.uid === object.uid,
    );
    if (!entry || Object.values(kept).some((entries) => entries.some((other) => sameRef(other, object)))) continue;
    (kept[object.file] ??= []).push(entry);
  }
  return kept;
}
