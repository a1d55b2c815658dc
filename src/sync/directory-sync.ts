import type { AdmissionSettings } from '../apply/admission.js';
import { AdmissionIndex } from '../apply/admission-index.js';
import { applyDocuments, type ContextResolver } from '../apply/apply.js';
import type { EventRecorder } from '../events/event-log.js';
import { revisionChange } from '../model/revision-change.js';
import type { LumaObject } from '../model/types.js';
import { readFile } from 'node:fs/promises';
import { formatIssue, ManifestError, parseManifests, type ManifestIssue, type ParsedDocument } from '../model/parse.js';
import { errorMessage } from '../util/error-message.js';
import { ConflictError, type ObjectStore } from '../store/store.js';
import type { SyncSettings } from '../config/settings.js';
import { formatDuration } from '../model/quantities.js';
import { canonicalJson } from '../util/hash.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { PASS_SLICE_MS, yieldEvery } from '../util/yield-every.js';
import type { Inventory, InventoryFile } from './inventory.js';
import { refKey, SOURCE_FILE_ANNOTATION, sameRef, type ObjectRef } from './ownership.js';
import {
  intentInventory,
  nextInventory,
  planSync,
  resolvePending,
  type ApplyOutcome,
  type PlannedPrune,
  type StoredObject,
  type SyncPlan,
} from './planner.js';
import { keepUnpruned, PruneConfirmation, type PruneReview } from './prune-confirmation.js';
import { AppliedFiles } from './applied-files.js';
import type { DirectoryScan, ParsedFile, UnchangedFile } from './scan.js';
import type { DirectoryScanner } from './scanner.js';
import { ScanProcess } from './scan-process.js';
import type { FileSyncStatus, SyncStatus } from './sync-status.js';

// One pass of the watched directory: scan, plan (planner.ts), apply each readable file on
// its own (all or nothing per file), prune, record the inventory, and tell what happened
// (status, events, log lines). Passes run one at a time; the watcher decides when.

export interface DirectorySyncOptions {
  /** The directory as given (`--manifests`); messages name files under it. */
  dir: string;
  store: ObjectStore;
  inventory: InventoryFile;
  settings: SyncSettings;
  admission: AdmissionSettings;
  resolveContext: ContextResolver;
  events: EventRecorder;
  logger: Logger;
  now?: () => number;
  clock?: Clock;
  /** How the directory is read; default a worker process (scan-process.ts), ended by `close`. */
  scanner?: DirectoryScanner;
}

/**
 * A file refused by the store or admission (an object still Terminating, a hostname taken)
 * may apply later without changing: it is tried again this often.
 */
export const FAILED_FILE_RETRY_MS = 5_000;

/** Events about files (not objects) name this kind. */
export const SYNC_EVENT_KIND = 'Sync';

export class DirectorySync {
  private inventoryState: Inventory | undefined;
  private emptySince: number | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private current: SyncStatus;
  private readonly now: () => number;
  /** What was last said about each file that did not apply: the log says it again only when it changes. */
  private readonly reported = new Map<string, string>();
  private readonly pruneConfirmation: PruneConfirmation;
  private readonly appliedFiles: AppliedFiles;
  private readonly scanner: DirectoryScanner;

  constructor(private readonly options: DirectorySyncOptions) {
    this.now = options.now ?? (() => (options.clock ?? systemClock).now());
    this.pruneConfirmation = new PruneConfirmation(options.settings.writeFinishMs);
    this.appliedFiles = new AppliedFiles(options.store);
    this.scanner = options.scanner ?? new ScanProcess({ logger: options.logger });
    this.current = {
      directory: options.dir,
      exists: false,
      phase: 'Pending',
      passes: 0,
      files: [],
      conflicts: [],
      pruned: [],
    };
  }

  /**
   * The status of the last pass, as it is: not a copy, as a thousand files' status is
   * several milliseconds to copy, on the loop that serves the proxy, for each answer of the
   * API. Each pass makes a new one and never changes it afterwards; callers only read it.
   */
  status(): Readonly<SyncStatus> {
    return this.current;
  }

  /** Runs a pass after any pass in progress; `force` lifts the prune guards for this pass. */
  pass(options: { force?: boolean } = {}): Promise<SyncStatus> {
    const next = this.running.then(
      () => this.runPass(options.force ?? false),
      () => this.runPass(options.force ?? false),
    );
    this.running = next;
    return next;
  }

  /** Ends the scan's worker; a pass in progress fails, and applies and prunes nothing. */
  close(): Promise<void> {
    return this.scanner.close();
  }

  /** When a pass should run although no file changed: the end of an empty directory's grace period, or a retry of failed files. */
  recheckAt(): number | undefined {
    const graceEnd = this.current.pruneWithheld?.retryAt;
    const secondLook = this.current.pruneWaiting?.until;
    const times = [
      ...(graceEnd !== undefined ? [Date.parse(graceEnd)] : []),
      ...(secondLook !== undefined ? [Date.parse(secondLook)] : []),
      // Files still being written are read when they have been still for the window.
      ...(this.current.files.some((file) => file.state === 'Writing')
        ? [this.now() + this.options.settings.writeFinishMs]
        : []),
      ...(this.current.files.some((file) => file.state === 'Failed') || this.current.error !== undefined
        ? [this.now() + FAILED_FILE_RETRY_MS]
        : []),
    ];
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  private stored = (ref: ObjectRef): StoredObject | undefined => {
    const metadata = this.options.store.metadata(ref.kind, ref.name);
    if (!metadata) return undefined;
    const sourceFile = metadata.annotations?.[SOURCE_FILE_ANNOTATION];
    return { uid: metadata.uid ?? '', ...(sourceFile !== undefined ? { sourceFile } : {}) };
  };

  private async runPass(force: boolean): Promise<SyncStatus> {
    const { logger } = this.options;
    const passes = this.current.passes + 1;
    try {
      const status = await this.sync(force, passes);
      this.current = status;
    } catch (error) {
      this.appliedFiles.clear();
      logger.error({ err: errorMessage(error), directory: this.options.dir }, 'manifests directory pass failed');
      this.current = {
        ...this.current,
        phase: 'Degraded',
        passes,
        lastPassAt: new Date(this.now()).toISOString(),
        error: errorMessage(error),
      };
    }
    return this.status();
  }

  private async sync(force: boolean, passes: number): Promise<SyncStatus> {
    const { settings } = this.options;
    const scan = await this.scanner.scan(this.options.dir, {
      writeFinishMs: settings.writeFinishMs,
      known: await this.appliedFiles.known(yieldEvery(PASS_SLICE_MS)),
    });
    // A thousand files' bookkeeping between turns of the event loop, as the rest of the pass.
    const turn = yieldEvery(PASS_SLICE_MS);
    for (const file of [...scan.parsed, ...scan.unchanged]) {
      await turn();
      this.appliedFiles.noteRead(file.file, { contentHash: file.contentHash, objectsHash: file.objectsHash });
    }
    if (!force && (await this.sameAsLastPass(scan, turn))) return this.repeatLastPass(scan, passes, turn);
    // In the directory's order, as the scan read them: messages list files so.
    const declaring = [
      ...scan.parsed.map((file) => ({ file: file.file, objects: file.documents.map((doc) => declared(doc)) })),
      ...scan.unchanged.map((file) => ({ file: file.file, objects: this.appliedFiles.declared(file.file) })),
    ].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const loaded = (this.inventoryState ??= await this.options.inventory.load());
    // Planning asks about the same objects several times, and each store read is a copy:
    // they are read once, before the plan, between turns of the event loop.
    const stored = memoizeByRef(this.stored);
    await readAhead(
      stored,
      [...declaring.flatMap((file) => file.objects), ...Object.values(loaded).flat()],
      yieldEvery(PASS_SLICE_MS),
    );
    const previous = resolvePending(loaded, stored);
    const plan = planSync({
      directoryExists: scan.exists,
      declaring,
      // A file still being written is like a refused one: what it declares now is not known yet.
      refused: [...scan.refused, ...scan.writing].map((file) => file.file),
      inventory: previous,
      stored,
      guard: {
        now: this.now(),
        ...(this.emptySince !== undefined ? { emptySince: this.emptySince } : {}),
        emptyGracePeriodMs: settings.emptyGracePeriodMs,
        maxPruneShare: settings.maxPruneShare,
        force: force || settings.forcePrune,
      },
    });
    this.emptySince = plan.emptySince;

    const intent = intentInventory(previous, plan, stored);
    await this.saveInventory(intent);
    const outcomes = await this.applyFiles(scan, plan);
    this.appliedFiles.endPass();
    const review = this.pruneConfirmation.review(plan.prune, { now: this.now(), existingFiles: existingFiles(scan) });
    const pruned = await this.prune(review.confirmed);
    const after = nextInventory(
      intent,
      plan,
      outcomes.map((result) => result.outcome),
      pruned,
    );
    await this.saveInventory(keepUnpruned(after, intent, unpruned(plan, review, pruned)));

    this.report(scan, plan, outcomes);
    const inventory = this.inventoryState ?? {};
    const files: FileSyncStatus[] = [
      ...outcomes.map(({ outcome, error }): FileSyncStatus => {
        if ('applied' in outcome) return { file: outcome.file, state: 'Applied', objects: outcome.applied.map(refKey) };
        return {
          file: outcome.file,
          state: 'Failed',
          objects: (inventory[outcome.file] ?? []).map(refKey),
          ...failureDetails(error),
        };
      }),
      ...scan.refused.map((file): FileSyncStatus => ({
        file: file.file,
        state: 'Invalid',
        objects: (inventory[file.file] ?? []).map(refKey),
        issues: file.issues,
      })),
      ...scan.writing.map((file): FileSyncStatus => ({
        file: file.file,
        state: 'Writing',
        objects: (inventory[file.file] ?? []).map(refKey),
        message: writingMessage(settings.writeFinishMs),
      })),
    ].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const withheld = plan.withheld;
    const degraded =
      files.some((file) => file.state === 'Invalid' || file.state === 'Failed') ||
      plan.conflicts.length > 0 ||
      withheld !== undefined ||
      pruned.length < review.confirmed.length;
    const settling = scan.writing.length > 0 || review.waiting.length > 0;
    return {
      directory: this.options.dir,
      exists: scan.exists,
      phase: degraded ? 'Degraded' : settling ? 'Pending' : 'Synced',
      passes,
      lastPassAt: new Date(this.now()).toISOString(),
      files,
      conflicts: plan.conflicts.map((conflict) => ({
        object: refKey(conflict.ref),
        files: conflict.files,
        message: conflict.message,
      })),
      pruned: pruned.map(refKey),
      ...(review.recheckAt !== undefined
        ? { pruneWaiting: { objects: review.waiting.map(refKey), until: new Date(review.recheckAt).toISOString() } }
        : {}),
      ...(withheld
        ? {
            pruneWithheld: {
              objects: withheld.objects.map(refKey),
              reason: withheld.reason,
              ...(plan.recheckAt !== undefined ? { retryAt: new Date(plan.recheckAt).toISOString() } : {}),
            },
          }
        : {}),
    };
  }

  /**
   * The last pass applied every file and left nothing pending, and this scan found the same
   * files, each declaring what it applied then, with nobody having changed those objects
   * since (applied-files.ts): the plan, the applies and the inventory would all be the
   * same, so none of them is worked out again. A thousand unchanged files (or files whose
   * comments changed) then cost the main thread only the scan's answer.
   */
  private async sameAsLastPass(scan: DirectoryScan, turn: () => Promise<void>): Promise<boolean> {
    const last = this.current;
    const clean =
      last.phase === 'Synced' &&
      last.error === undefined &&
      last.conflicts.length === 0 &&
      last.pruneWaiting === undefined &&
      last.pruneWithheld === undefined &&
      this.inventoryState !== undefined;
    if (!clean || !scan.exists || scan.parsed.length + scan.refused.length + scan.writing.length > 0) return false;
    if (scan.unchanged.length === 0 || scan.unchanged.length !== last.files.length) return false;
    const lastFiles = new Set(last.files.map((file) => file.file));
    for (const file of scan.unchanged) {
      await turn();
      if (!lastFiles.has(file.file) || !this.appliedFiles.appliedAsDeclared(file.file)) return false;
    }
    return true;
  }

  /** The last pass's outcome again, with the hashes of the bytes this scan read. */
  private async repeatLastPass(scan: DirectoryScan, passes: number, turn: () => Promise<void>): Promise<SyncStatus> {
    for (const file of scan.unchanged) {
      await turn();
      this.appliedFiles.keep(file.file);
    }
    this.appliedFiles.endPass();
    this.emptySince = undefined;
    return { ...this.current, passes, lastPassAt: new Date(this.now()).toISOString(), pruned: [] };
  }

  /** Writes the inventory when it differs from what is on disk (inventoryState). */
  private async saveInventory(after: Inventory): Promise<void> {
    if (canonicalJson(this.inventoryState ?? {}) !== canonicalJson(after)) await this.options.inventory.save(after);
    this.inventoryState = after;
  }

  /**
   * Each file is applied on its own, all or nothing. A file refused by a rule that spans
   * files (a hostname another file frees in this same pass) is tried again after the
   * others, for as long as a round makes progress. An unchanged file (applied-files.ts)
   * is not applied again, unless the plan now asks it for other objects than it applied.
   */
  private async applyFiles(
    scan: DirectoryScan,
    plan: SyncPlan,
  ): Promise<Array<{ outcome: ApplyOutcome; error?: unknown }>> {
    const results = new Map<string, { outcome: ApplyOutcome; error?: unknown }>();
    const planned = new Map(plan.apply.map((entry) => [entry.file, entry.objects]));
    // Without turns, a thousand files would hold the proxy's requests for the whole pass.
    const turn = yieldEvery(PASS_SLICE_MS);
    const pending = [...scan.parsed];
    for (const file of scan.unchanged) {
      await turn();
      const applied = this.appliedFiles.stillApplied(file.file, planned.get(file.file) ?? []);
      if (applied) {
        this.appliedFiles.keep(file.file);
        results.set(file.file, { outcome: { file: file.file, applied } });
      } else
        await this.readAgain(file).then(
          (parsed) => pending.push(parsed),
          (error: unknown) => results.set(file.file, { outcome: { file: file.file, failed: true }, error }),
        );
    }
    if (pending.length === 0) return [...results.values()];
    // One index of the store for the whole pass, kept current by its watch, instead of a
    // listing (and copy) of every stored project for each file's admission.
    const admission = await AdmissionIndex.following(this.options.store, turn);
    try {
      await this.applyRounds(pending, planned, admission.index, results, turn);
    } finally {
      admission.stop();
    }
    return [...results.values()];
  }

  /** Rounds of applies, each file between turns of the event loop: files whose apply changes nothing resolve without I/O. */
  private async applyRounds(
    files: ParsedFile[],
    planned: ReadonlyMap<string, ObjectRef[]>,
    index: AdmissionIndex,
    results: Map<string, { outcome: ApplyOutcome; error?: unknown }>,
    turn: () => Promise<void>,
  ): Promise<void> {
    let pending = files;
    for (;;) {
      const failed: ParsedFile[] = [];
      for (const file of pending) {
        await turn();
        const objects = planned.get(file.file) ?? [];
        try {
          const applied = await this.applyFile(file, objects, index);
          results.set(file.file, { outcome: { file: file.file, applied } });
        } catch (error) {
          this.appliedFiles.forget(file.file);
          failed.push(file);
          results.set(file.file, { outcome: { file: file.file, failed: true }, error });
        }
      }
      if (failed.length === 0 || failed.length === pending.length) break;
      pending = failed;
    }
  }

  /** A project change that makes a revision says so, as `luma diff` does: a rollout, not a replacement. */
  private logRevisionChange(file: ParsedFile, live: LumaObject | undefined, applied: LumaObject): void {
    if (live?.kind !== 'Project' || applied.kind !== 'Project') return;
    const note = revisionChange(live, applied);
    if (note !== undefined)
      this.options.logger.info({ file: file.displayPath, kind: 'Project', name: applied.metadata.name }, note);
  }

  /** An unchanged file the plan asks for other objects than it applied last (one of them now declared twice): it is parsed after all. */
  private async readAgain(file: UnchangedFile): Promise<ParsedFile> {
    this.appliedFiles.forget(file.file);
    const content = await readFile(file.displayPath, 'utf8');
    return { ...file, documents: parseManifests(content, file.displayPath) };
  }

  private async applyFile(
    file: ParsedFile,
    objects: ObjectRef[],
    index: AdmissionIndex,
  ): Promise<Array<ObjectRef & { uid: string }>> {
    const documents = file.documents.filter((doc) =>
      objects.some((ref) => sameRef(ref, { kind: doc.object.kind, name: doc.object.metadata.name })),
    );
    for (const doc of documents) {
      doc.object.metadata.annotations = { ...doc.object.metadata.annotations, [SOURCE_FILE_ANNOTATION]: file.file };
      // A resourceVersion in a watched file would pin it to one moment of the store.
      delete doc.object.metadata.resourceVersion;
    }
    // Projects as they were, to say whether the change makes a revision (only changed files get here).
    const live = new Map(
      documents
        .filter((doc) => doc.object.kind === 'Project')
        .map((doc) => [doc.object.metadata.name, this.options.store.get('Project', doc.object.metadata.name)]),
    );
    const applied = await applyDocuments(this.options.store, documents, {
      settings: this.options.admission,
      resolveContext: this.options.resolveContext,
      index,
    });
    for (const object of applied) {
      if (object.result === 'unchanged') continue;
      this.options.events.record(
        { kind: object.kind, name: object.name },
        'Normal',
        'Applied',
        `${object.result} from ${file.displayPath}`,
      );
      this.options.logger.info(
        { file: file.displayPath, kind: object.kind, name: object.name, result: object.result },
        'applied manifest',
      );
      if (object.kind === 'Project') this.logRevisionChange(file, live.get(object.name), object.object);
    }
    const buildsImage = file.documents.some(
      (doc) => doc.object.kind === 'Image' && doc.object.spec.build !== undefined,
    );
    this.appliedFiles.record(
      file.file,
      file.documents.map(declared),
      applied.map((object) => object.object),
      { skippable: !buildsImage },
    );
    return applied.map((object) => ({ kind: object.kind, name: object.name, uid: object.object.metadata.uid ?? '' }));
  }

  private async prune(candidates: PlannedPrune[]): Promise<ObjectRef[]> {
    const { store, events, logger } = this.options;
    const pruned: ObjectRef[] = [];
    for (const candidate of candidates) {
      const current = store.get(candidate.kind, candidate.name);
      // Gone already, or re-created meanwhile by someone else: not ours to delete.
      if (!current || current.metadata.uid !== candidate.uid) {
        pruned.push(candidate);
        continue;
      }
      try {
        await store.delete(candidate.kind, candidate.name, { resourceVersion: current.metadata.resourceVersion ?? '' });
        pruned.push(candidate);
        const where = `${this.options.dir}/${candidate.file}`;
        events.record(
          candidate,
          'Normal',
          'Pruned',
          `deleted: no file in the manifests directory declares it any more (it came from ${where})`,
        );
        logger.info({ kind: candidate.kind, name: candidate.name, file: where }, 'pruned object');
      } catch (error) {
        // Changed between the read and the delete: the next pass looks again.
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    return pruned;
  }

  private report(
    scan: DirectoryScan,
    plan: SyncPlan,
    outcomes: Array<{ outcome: ApplyOutcome; error?: unknown }>,
  ): void {
    const { events, logger } = this.options;
    const reported = new Map<string, string>();
    // Events count repeats; the log says a file's problem once, and again when it changes.
    const logOnce = (file: string, message: string, log: () => void): void => {
      reported.set(file, message);
      if (this.reported.get(file) !== message) log();
    };
    for (const file of scan.refused) {
      const issues = file.issues.map(formatIssue).join('; ');
      events.record(
        { kind: SYNC_EVENT_KIND, name: file.file },
        'Warning',
        'InvalidManifest',
        `not applied, and what it declared before is kept as it was: ${issues}`,
      );
      logOnce(file.file, issues, () =>
        logger.error(
          { file: file.displayPath, issues: file.issues.map(formatIssue) },
          `skipped manifest ${file.displayPath}: ${issues}`,
        ),
      );
    }
    for (const { outcome, error } of outcomes) {
      if ('applied' in outcome) continue;
      const reason = errorMessage(error);
      events.record(
        { kind: SYNC_EVENT_KIND, name: outcome.file },
        'Warning',
        'ApplyFailed',
        `not applied, and what it declared before is kept as it was: ${reason}`,
      );
      logOnce(outcome.file, reason, () =>
        logger.error({ file: outcome.file, err: reason }, `could not apply manifest ${outcome.file}: ${reason}`),
      );
    }
    this.reported.clear();
    for (const [file, message] of reported) this.reported.set(file, message);
    for (const conflict of plan.conflicts) {
      events.record({ kind: conflict.ref.kind, name: conflict.ref.name }, 'Warning', 'SyncConflict', conflict.message);
      logger.error({ object: refKey(conflict.ref), files: conflict.files }, conflict.message);
    }
    if (plan.withheld) {
      events.record(
        { kind: SYNC_EVENT_KIND, name: this.options.dir },
        'Warning',
        'PruneWithheld',
        `${plan.withheld.objects.map(refKey).join(', ')} not pruned: ${plan.withheld.reason}`,
      );
      logger.warn({ objects: plan.withheld.objects.map(refKey) }, `prune withheld: ${plan.withheld.reason}`);
    }
  }
}

/** Answers for the planning of one pass, before it writes anything. */
function memoizeByRef(
  lookup: (ref: ObjectRef) => StoredObject | undefined,
): (ref: ObjectRef) => StoredObject | undefined {
  const answers = new Map<string, StoredObject | undefined>();
  return (ref) => {
    const key = refKey(ref);
    if (!answers.has(key)) answers.set(key, lookup(ref));
    return answers.get(key);
  };
}

async function readAhead(
  lookup: (ref: ObjectRef) => unknown,
  refs: readonly ObjectRef[],
  turn: () => Promise<void>,
): Promise<void> {
  for (const ref of refs) {
    await turn();
    lookup(ref);
  }
}

function declared(doc: ParsedDocument): { kind: ParsedDocument['object']['kind']; name: string; at: string } {
  const { line, column } = doc.position(['metadata', 'name']);
  return { kind: doc.object.kind, name: doc.object.metadata.name, at: `${doc.source.file}:${line}:${column}` };
}

/** Planned prunes that did not happen: their objects stay the directory's. */
function unpruned(plan: SyncPlan, review: PruneReview, pruned: ObjectRef[]): PlannedPrune[] {
  const failed = review.confirmed.filter((candidate) => !pruned.some((done) => sameRef(done, candidate)));
  return [...review.waiting, ...failed, ...(plan.withheld?.objects ?? [])];
}

/** Every file the scan found, read or not: an object missing from one of them may be its unwritten half. */
function existingFiles(scan: DirectoryScan): Set<string> {
  return new Set([...scan.parsed, ...scan.unchanged, ...scan.refused, ...scan.writing].map((file) => file.file));
}

function writingMessage(windowMs: number): string {
  return `still being written: read once it has not changed for ${formatDuration(windowMs)} (sync.writeFinish); what it declared before is kept meanwhile`;
}

function failureDetails(error: unknown): { issues?: ManifestIssue[]; message: string } {
  if (error instanceof ManifestError) return { issues: error.issues, message: error.message };
  return { message: errorMessage(error) };
}
