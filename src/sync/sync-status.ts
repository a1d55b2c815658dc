import type { ManifestIssue } from '../model/parse.js';

// What the API tells about the watched directory (GET /api/v1alpha1/sync): the last
// pass, each file's state with its issues (file:line:column), and prunes held back.

/** Writing: changed within the write-finish window, not read yet (its objects are kept meanwhile). */
export type FileSyncState = 'Applied' | 'Invalid' | 'Failed' | 'Writing';

export interface FileSyncStatus {
  /** Relative to the watched directory. */
  file: string;
  state: FileSyncState;
  /** `Kind/name` of what the file declares (Applied), or what it declared last and keeps (Invalid, Failed). */
  objects: string[];
  /** Why the file was not applied; each issue names file, line and column. */
  issues?: ManifestIssue[];
  message?: string;
}

export interface SyncStatus {
  /** The directory as given (`--manifests`). */
  directory: string;
  exists: boolean;
  /** Synced: every file applied and nothing held back. Degraded: something needs a person. Pending: a file is being written or a prune awaits its second look. */
  phase: 'Pending' | 'Synced' | 'Degraded';
  passes: number;
  lastPassAt?: string;
  files: FileSyncStatus[];
  /** Objects declared more than once, or that exist but were not created by the directory. */
  conflicts: Array<{ object: string; files: string[]; message: string }>;
  /** What the last pass pruned. */
  pruned: string[];
  /** Objects missing from a file that still exists: pruned if still missing at `until` (the second look). */
  pruneWaiting?: { objects: string[]; until: string };
  /** Prunes the guards held back (empty directory, too large a share), and why. */
  pruneWithheld?: { objects: string[]; reason: string; retryAt?: string };
  /** A pass that failed as a whole (e.g. the store refused to write). */
  error?: string;
}
