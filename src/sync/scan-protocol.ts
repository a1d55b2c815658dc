import type { PortableDocument } from './portable-document.js';
import type { KnownFile, ParsedFile, RefusedFile, WritingFile } from './scan.js';

// The messages between the main thread (scan-process.ts) and the scan's worker process
// (scan-worker.ts). One request per scan; the worker answers with the parsed files in
// parts (each part is copied into the main thread in one go, so a part is kept small),
// the unchanged files in parts too, then the rest of the scan, or the reason it failed.
// Progress messages say that a long scan is still going: once the worker has said it is
// ready, silence means it hangs.

export interface ScanRequestMessage {
  id: number;
  dir: string;
  writeFinishMs: number;
  known: Array<[file: string, known: KnownFile]>;
}

export interface PortableParsedFile extends Omit<ParsedFile, 'documents'> {
  documents: PortableDocument[];
}

/**
 * A file that declares what the main thread said it applied (scan.ts UnchangedFile), told
 * in as few bytes as possible: the main thread knows its path and its objects' hash, and
 * its bytes' hash too unless they changed (a comment did). A pass of a thousand such files
 * is otherwise a thousand records the main thread copies in and throws away.
 */
export interface PortableUnchangedFile {
  file: string;
  /** Only when the bytes differ from those the main thread knew. */
  contentHash?: string;
}

export type ScanReply =
  /** Sent once, when the worker has loaded (id 0): the stall clock runs from then on. */
  | { id: number; type: 'ready' }
  | { id: number; type: 'progress' }
  | { id: number; type: 'parsed'; files: PortableParsedFile[] }
  | { id: number; type: 'unchanged'; files: PortableUnchangedFile[] }
  | {
      id: number;
      type: 'done';
      exists: boolean;
      refused: RefusedFile[];
      writing: WritingFile[];
    }
  | { id: number; type: 'failed'; message: string };

/** Parsed files per part: about 50 KiB of plain data, copied in well under a millisecond. */
export const FILES_PER_PART = 32;

/** Unchanged files per part: a name and perhaps a hash each, about 25 KiB. */
export const UNCHANGED_PER_PART = 256;

/** The worker says it is alive at most this often during a scan. */
export const PROGRESS_EVERY_MS = 1_000;

const REPLY_TYPES = new Set(['ready', 'progress', 'parsed', 'unchanged', 'done', 'failed']);

export function isScanReply(value: unknown): value is ScanReply {
  if (value === null || typeof value !== 'object') return false;
  const { id, type } = value as { id?: unknown; type?: unknown };
  return typeof id === 'number' && typeof type === 'string' && REPLY_TYPES.has(type);
}
