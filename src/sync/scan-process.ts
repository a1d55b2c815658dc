import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../util/logger.js';
import { startModuleProcess } from '../util/module-process.js';
import { siblingModule } from '../util/module-worker.js';
import { fromPortable } from './portable-document.js';
import { isScanReply, type PortableUnchangedFile, type ScanReply, type ScanRequestMessage } from './scan-protocol.js';
import type { DirectoryScan, KnownFile, ParsedFile, UnchangedFile } from './scan.js';
import type { DirectoryScanner, ScanRequest } from './scanner.js';

// Scans the watched directory in a worker process (scan-worker.ts): the main thread only
// receives plain results, in small parts between which it serves requests. A process and
// not a worker thread: a thread's garbage collection and compilation run on V8's helper
// threads, which the whole process shares at the proxy's priority, and on two cores that
// took as much CPU from the proxy during a full pass as the scan itself (docs/benchmarks.md).
// One worker, started on the first scan and ended after WORKER_IDLE_MS without one. A
// worker that crashes, exits, or says nothing for `stallMs` fails its scan with a
// ScanWorkerError (a failed scan applies and prunes nothing) and is ended; the next scan
// starts a new one.

/** A scan silent this long (beyond its write-finish wait) is taken for a hung worker. */
export const SCAN_STALL_MS = 30_000;

/** A worker has this long to start and load (from the sources, tsx compiles it first) before it is taken for hung. */
export const WORKER_START_MS = 60_000;

/** An idle worker is ended after this long, so that its memory is given back; starting one takes a few hundred ms of its own CPU. */
export const WORKER_IDLE_MS = 60_000;

export class ScanWorkerError extends Error {
  override name = 'ScanWorkerError';
}

export interface ScanProcessOptions {
  /** The worker's module; tests give one that crashes or hangs. Default: scan-worker beside this module. */
  entry?: URL;
  stallMs?: number;
  idleMs?: number;
  logger?: Logger;
}

interface PendingScan {
  id: number;
  dir: string;
  /** What the request said each file held: the worker names unchanged files against it. */
  known: ReadonlyMap<string, KnownFile>;
  parsed: ParsedFile[];
  unchanged: UnchangedFile[];
  /** How long the worker may be silent: SCAN_STALL_MS plus the write-finish wait. */
  stallMs: number;
  stallTimer?: ReturnType<typeof setTimeout>;
  resolve: (scan: DirectoryScan) => void;
  reject: (error: Error) => void;
}

export class ScanProcess implements DirectoryScanner {
  private worker: ChildProcess | undefined;
  /** The worker has loaded: from then on, silence beyond the stall time is a hang. */
  private ready = false;
  private pending: PendingScan | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private nextId = 1;
  private closed = false;
  /** Workers started so far: a restart starts one more. */
  starts = 0;

  constructor(private readonly options: ScanProcessOptions = {}) {}

  /** One scan at a time: a second waits for the first. */
  scan(dir: string, request: ScanRequest): Promise<DirectoryScan> {
    const run = this.queue.then(() => this.scanNow(dir, request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    this.rejectPending(new ScanWorkerError('the manifest scan was stopped'));
    if (worker) await end(worker);
  }

  private scanNow(dir: string, request: ScanRequest): Promise<DirectoryScan> {
    if (this.closed) return Promise.reject(new ScanWorkerError('the manifest scan was stopped'));
    const worker = this.ensureWorker();
    clearTimeout(this.idleTimer);
    // A scan in flight keeps the process alive (the first pass runs before anything listens).
    keepAlive(worker, true);
    return new Promise<DirectoryScan>((resolve, reject) => {
      const stallMs = (this.options.stallMs ?? SCAN_STALL_MS) + request.writeFinishMs;
      const pending: PendingScan = {
        id: this.nextId++,
        dir,
        known: request.known,
        parsed: [],
        unchanged: [],
        stallMs,
        resolve,
        reject,
      };
      this.pending = pending;
      this.armStall(pending);
      const message: ScanRequestMessage = {
        id: pending.id,
        dir,
        writeFinishMs: request.writeFinishMs,
        known: [...request.known],
      };
      worker.send(message);
    });
  }

  private ensureWorker(): ChildProcess {
    if (this.worker) return this.worker;
    const worker = startModuleProcess(this.options.entry ?? siblingModule(import.meta.url, 'scan-worker'));
    this.starts += 1;
    this.ready = false;
    worker.on('message', (message: unknown) => this.receive(worker, message));
    // Could not be started, or a message could not be sent.
    worker.on('error', (error) => this.broken(worker, `failed: ${error.message}`));
    const stderr = stderrTail(worker);
    // 'close', not 'exit': by then its last words on stderr have all been read.
    worker.on('close', (code, signal) => {
      const thrown = /^(\w*Error\b.*)$/m.exec(stderr())?.[1];
      this.broken(
        worker,
        thrown && code !== 0 ? `crashed: ${thrown}` : `exited with ${code !== null ? `code ${code}` : signal}`,
      );
    });
    this.worker = worker;
    return worker;
  }

  private receive(worker: ChildProcess, message: unknown): void {
    if (worker !== this.worker) return;
    if (!isScanReply(message)) return this.broken(worker, 'sent a message that is not a scan reply');
    const pending = this.pending;
    if (message.type === 'ready') {
      this.ready = true;
      if (pending) this.armStall(pending);
      return;
    }
    // A reply to a scan that already failed: nothing waits for it.
    if (!pending || message.id !== pending.id) return;
    this.armStall(pending);
    this.handle(worker, pending, message);
  }

  private handle(worker: ChildProcess, pending: PendingScan, reply: ScanReply): void {
    switch (reply.type) {
      case 'ready':
      case 'progress':
        return;
      case 'parsed':
        for (const file of reply.files) pending.parsed.push({ ...file, documents: file.documents.map(fromPortable) });
        return;
      case 'unchanged':
        for (const file of reply.files) {
          const unchanged = unchangedFile(pending, file);
          if (!unchanged) return this.broken(worker, `named ${file.file} unchanged, a file it was not told of`);
          pending.unchanged.push(unchanged);
        }
        return;
      case 'done': {
        this.settle(pending);
        const { exists, refused, writing } = reply;
        pending.resolve({ exists, parsed: pending.parsed, refused, writing, unchanged: pending.unchanged });
        return;
      }
      case 'failed':
        // The directory could not be read (the worker is fine): the same error as in the process.
        this.settle(pending);
        pending.reject(new Error(reply.message));
        return;
    }
  }

  /** The scan is over: the worker no longer keeps the process alive, and ends if no scan follows. */
  private settle(pending: PendingScan): void {
    clearTimeout(pending.stallTimer);
    this.pending = undefined;
    const worker = this.worker;
    if (worker) keepAlive(worker, false);
    this.idleTimer = setTimeout(() => {
      if (this.worker !== worker || this.pending || !worker) return;
      this.worker = undefined;
      void end(worker);
    }, this.options.idleMs ?? WORKER_IDLE_MS);
    this.idleTimer.unref();
  }

  private armStall(pending: PendingScan): void {
    clearTimeout(pending.stallTimer);
    const limitMs = this.ready ? pending.stallMs : Math.max(pending.stallMs, WORKER_START_MS);
    pending.stallTimer = setTimeout(() => {
      const what = this.ready ? `did not answer for ${limitMs / 1000} s` : `did not start within ${limitMs / 1000} s`;
      if (this.worker) this.broken(this.worker, `${what} and was ended`);
    }, limitMs);
  }

  /** The worker failed: it is ended, its scan fails, and the next scan starts another. */
  private broken(worker: ChildProcess, what: string): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    void end(worker);
    const error = new ScanWorkerError(
      `the manifest scan's worker process ${what}; nothing is applied or pruned until a scan succeeds (a new worker starts with the next pass)`,
    );
    this.options.logger?.error({ err: error.message }, 'manifest scan worker failed');
    this.rejectPending(error);
  }

  private rejectPending(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    clearTimeout(pending.stallTimer);
    pending.reject(error);
  }
}

/** An unchanged file as the scan in the process gives it: what the worker left out, the request knew. */
function unchangedFile(pending: PendingScan, file: PortableUnchangedFile): UnchangedFile | undefined {
  const known = pending.known.get(file.file);
  if (!known) return undefined;
  return {
    file: file.file,
    displayPath: path.join(pending.dir, file.file),
    contentHash: file.contentHash ?? known.contentHash,
    objectsHash: known.objectsHash,
  };
}

/** Whether the worker (its process, its channel and its stderr pipe) keeps this process alive. */
function keepAlive(worker: ChildProcess, alive: boolean): void {
  const stderr = worker.stderr as (Readable & { ref?: () => void; unref?: () => void }) | null;
  if (alive) {
    worker.ref();
    worker.channel?.ref();
    stderr?.ref?.();
  } else {
    worker.unref();
    worker.channel?.unref();
    stderr?.unref?.();
  }
}

/** Kills the worker and waits for it to be gone (at once if it is already). */
function end(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.kill('SIGKILL');
  return gone;
}

/** The worker's stderr goes on to this process's; the last 4 KiB are kept, to say why it crashed. */
function stderrTail(worker: ChildProcess): () => string {
  let tail = '';
  worker.stderr?.setEncoding('utf8');
  worker.stderr?.on('data', (chunk: string) => {
    process.stderr.write(chunk);
    tail = (tail + chunk).slice(-4_096);
  });
  return () => tail;
}
