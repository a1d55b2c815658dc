import { formatDuration } from '../model/quantities.js';
import type { Inventory, InventoryEntry } from './inventory.js';
import { refKey, sameRef, type ObjectRef } from './ownership.js';

// The sync planner: pure, no I/O. Given what the directory declares now, what it declared
// before (the inventory) and what the store holds, it decides what each pass applies and
// prunes, and what it refuses to do:
//
// - a file that does not parse keeps everything it declared before (not applied, not pruned);
// - an object declared twice (two files, or twice in one) is applied from neither;
// - an object that exists but was not created by the directory (CLI, API) is never taken over;
// - only objects the inventory owns are pruned, and only when no readable file declares them;
// - a directory found empty or missing prunes nothing before its grace period, and one pass
//   never prunes more than a share of what the directory owns; `force` lifts both guards.

export interface DeclaredObject extends ObjectRef {
  /** Where it is declared, for messages (`file:line:column`). */
  at: string;
}

export interface DeclaringFile {
  file: string;
  objects: DeclaredObject[];
}

/** What the store holds under a name, as far as ownership is concerned. */
export interface StoredObject {
  uid: string;
  /** Its luma.dev/source-file annotation. */
  sourceFile?: string;
}

export interface PruneGuard {
  now: number;
  /** When an earlier pass first found the directory empty or missing. */
  emptySince?: number;
  emptyGracePeriodMs: number;
  maxPruneShare: number;
  force: boolean;
}

export interface PlanInput {
  directoryExists: boolean;
  /** Files that parsed and validated. */
  declaring: DeclaringFile[];
  /** Files that did not: only their names matter here. */
  refused: string[];
  inventory: Inventory;
  stored: (ref: ObjectRef) => StoredObject | undefined;
  guard: PruneGuard;
}

export interface ObjectConflict {
  ref: ObjectRef;
  /** The files involved, for the status. */
  files: string[];
  message: string;
}

export interface PlannedPrune extends ObjectRef {
  uid: string;
  /** The file that declared it last. */
  file: string;
}

export interface SyncPlan {
  /** Per readable file, what it declares minus the objects in conflict. */
  apply: Array<{ file: string; objects: ObjectRef[] }>;
  conflicts: ObjectConflict[];
  prune: PlannedPrune[];
  /** Prunes the guards held back, and why. */
  withheld?: { objects: PlannedPrune[]; reason: string };
  /** Carried to the next pass: the directory has been empty or missing since then. */
  emptySince?: number;
  /** When a pass should run even if no file changes (the end of the grace period). */
  recheckAt?: number;
}

/** Inventory entries by object (`Kind/name`), each with the file that holds it: built once per plan, not searched per object. */
export type InventoryIndex = ReadonlyMap<string, ReadonlyArray<InventoryEntry & { file: string }>>;

export function indexInventory(inventory: Inventory): InventoryIndex {
  const index = new Map<string, Array<InventoryEntry & { file: string }>>();
  for (const [file, entries] of Object.entries(inventory)) {
    for (const entry of entries) {
      const key = refKey(entry);
      const found = index.get(key);
      if (found) found.push({ ...entry, file });
      else index.set(key, [{ ...entry, file }]);
    }
  }
  return index;
}

/** An inventory entry owns a stored object: same uid, or (while its pass runs) the object names the entry's file. */
export function isOwned(index: InventoryIndex, ref: ObjectRef, stored: StoredObject): boolean {
  return (index.get(refKey(ref)) ?? []).some((entry) =>
    entry.uid !== undefined ? entry.uid === stored.uid : stored.sourceFile === entry.file,
  );
}

export function planSync(input: PlanInput): SyncPlan {
  const { inventory, stored, guard } = input;
  const index = indexInventory(inventory);
  const declarations = new Map<string, Array<{ file: string; object: DeclaredObject }>>();
  for (const file of input.declaring) {
    for (const object of file.objects) {
      const key = refKey(object);
      declarations.set(key, [...(declarations.get(key) ?? []), { file: file.file, object }]);
    }
  }

  const conflicts: ObjectConflict[] = [];
  const conflicted = new Set<string>();
  for (const [key, where] of declarations) {
    const first = where[0];
    if (!first) continue;
    if (where.length > 1) {
      conflicted.add(key);
      conflicts.push({
        ref: { kind: first.object.kind, name: first.object.name },
        files: [...new Set(where.map((declaration) => declaration.file))],
        message: `${first.object.kind} "${first.object.name}" is declared more than once (${where.map((declaration) => declaration.object.at).join(' and ')}); neither is applied until only one declares it`,
      });
      continue;
    }
    const current = stored(first.object);
    if (current && !isOwned(index, first.object, current)) {
      conflicted.add(key);
      conflicts.push({
        ref: { kind: first.object.kind, name: first.object.name },
        files: [first.file],
        message: `${first.object.at}: ${first.object.kind} "${first.object.name}" already exists and was not created from the manifests directory (it was applied with the CLI or the API); the directory does not take it over: delete it, or remove it from this file`,
      });
    }
  }

  const apply = input.declaring.map((file) => ({
    file: file.file,
    objects: file.objects.filter((object) => !conflicted.has(refKey(object))).map(({ kind, name }) => ({ kind, name })),
  }));

  // Prune candidates: owned objects no readable file declares any more. A refused file's
  // objects are kept: what it declares now cannot be known.
  const refused = new Set(input.refused);
  const candidates: PlannedPrune[] = [];
  const seen = new Set<string>();
  for (const [file, entries] of Object.entries(inventory)) {
    if (refused.has(file)) continue;
    for (const entry of entries) {
      const key = refKey(entry);
      if (declarations.has(key) || seen.has(key)) continue;
      const current = stored(entry);
      if (!current || !isOwned(index, entry, current)) continue;
      seen.add(key);
      candidates.push({ kind: entry.kind, name: entry.name, uid: current.uid, file });
    }
  }

  const plan: SyncPlan = { apply, conflicts, prune: candidates };
  const empty = !input.directoryExists || (input.declaring.length === 0 && input.refused.length === 0);
  if (empty) plan.emptySince = guard.emptySince ?? guard.now;
  if (candidates.length === 0 || guard.force) return plan;

  if (empty) {
    const since = plan.emptySince ?? guard.now;
    const until = since + guard.emptyGracePeriodMs;
    // After the grace period the emptiness is deliberate: the share guard does not apply.
    if (guard.now >= until) return plan;
    const what = input.directoryExists ? 'empty' : 'missing';
    return {
      ...plan,
      prune: [],
      withheld: {
        objects: candidates,
        reason: `the manifests directory is ${what} since ${new Date(since).toISOString()}; nothing is pruned before it has stayed so for ${formatDuration(guard.emptyGracePeriodMs)} (sync.emptyGracePeriod), or when forced`,
      },
      recheckAt: until,
    };
  }

  const owned = countOwned(index, stored);
  const limit = Math.max(1, Math.floor(guard.maxPruneShare * owned));
  if (candidates.length > limit) {
    return {
      ...plan,
      prune: [],
      withheld: {
        objects: candidates,
        reason: `this pass would prune ${candidates.length} of the ${owned} objects the directory owns, more than sync.maxPruneShare (${guard.maxPruneShare}) allows at once; nothing is pruned: restore the files, or force the prune`,
      },
    };
  }
  return plan;
}

function countOwned(index: InventoryIndex, stored: (ref: ObjectRef) => StoredObject | undefined): number {
  let owned = 0;
  for (const [, entries] of index) {
    const first = entries[0];
    const current = first ? stored(first) : undefined;
    if (first && current && isOwned(index, first, current)) owned += 1;
  }
  return owned;
}

/** How a pass went, per file it tried to apply: the objects written, with their uids, or a failure. */
export type ApplyOutcome =
  { file: string; applied: Array<ObjectRef & { uid: string }> } | { file: string; failed: true };

/**
 * Entries left without a uid by a pass that did not finish (a crash, a failed apply): those
 * whose object exists and names their file get its uid; the others never came to be.
 */
export function resolvePending(inventory: Inventory, stored: (ref: ObjectRef) => StoredObject | undefined): Inventory {
  const resolved: Inventory = {};
  for (const [file, entries] of Object.entries(inventory)) {
    const kept: InventoryEntry[] = [];
    for (const entry of entries) {
      if (entry.uid !== undefined) {
        kept.push(entry);
        continue;
      }
      const current = stored(entry);
      if (current && current.sourceFile === file && !kept.some((other) => sameRef(other, entry)))
        kept.push({ kind: entry.kind, name: entry.name, uid: current.uid });
    }
    if (kept.length > 0) resolved[file] = kept;
  }
  return resolved;
}

/**
 * The inventory after a pass (from the intent inventory written before it): applied files list what they wrote; files refused or failed,
 * objects in conflict, and prunes withheld or failed keep what they had; pruned objects go.
 */
export function nextInventory(
  intent: Inventory,
  plan: SyncPlan,
  outcomes: ApplyOutcome[],
  pruned: ObjectRef[],
): Inventory {
  const next: Inventory = {};
  const claimed = new Set<string>();
  for (const outcome of outcomes) {
    if (!('applied' in outcome)) continue;
    next[outcome.file] = outcome.applied.map(({ kind, name, uid }) => ({ kind, name, uid }));
    for (const ref of outcome.applied) claimed.add(refKey(ref));
  }
  const prunedKeys = new Set(pruned.map(refKey));
  const conflictKeys = new Set(plan.conflicts.map((conflict) => refKey(conflict.ref)));
  for (const [file, entries] of Object.entries(intent)) {
    // next[file] is set by this pass's applied outcomes only.
    if (next[file]) {
      // An applied file keeps, besides what it wrote, what it held and now has in conflict.
      for (const entry of entries)
        if (conflictKeys.has(refKey(entry)) && !claimed.has(refKey(entry))) next[file]?.push(entry);
      continue;
    }
    // Entries without a uid stay too: a failed apply may have created some of them;
    // resolvePending sorts them out at the start of the next pass.
    const kept = entries.filter((entry) => !claimed.has(refKey(entry)) && !prunedKeys.has(refKey(entry)));
    if (kept.length > 0) next[file] = kept;
  }
  for (const [file, entries] of Object.entries(next)) if (entries.length === 0) delete next[file];
  return next;
}

/**
 * Written before a pass applies anything: what it is about to create, without uids, beside
 * what the directory owned already. A crash in the middle of the pass leaves objects the
 * next pass recognises as the directory's, by their source-file annotation.
 */
export function intentInventory(
  previous: Inventory,
  plan: SyncPlan,
  stored: (ref: ObjectRef) => StoredObject | undefined,
): Inventory {
  const intent: Inventory = structuredClone(previous);
  for (const { file, objects } of plan.apply) {
    for (const object of objects) {
      if (stored(object)) continue;
      const entries = (intent[file] ??= []);
      if (!entries.some((entry) => sameRef(entry, object) && entry.uid === undefined))
        entries.push({ kind: object.kind, name: object.name });
    }
  }
  return intent;
}
