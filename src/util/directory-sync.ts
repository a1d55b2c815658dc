// Group commit for directory fsyncs. A directory fsync makes durable every entry change
// (rename, unlink) made in it before the fsync began, so callers that ask while one is
// already under way can all share the next one instead of each running their own. Ten
// thousand objects applied at once then cost a few directory fsyncs, not ten thousand,
// each of which forces a journal commit on ext4.

type SyncNow = (dir: string) => Promise<void>;

interface DirectoryState {
  /** The fsync running now, if any: too late for callers arriving after it began. */
  running: Promise<void> | undefined;
  /** The fsync that starts once `running` ends, shared by every caller arriving until then. */
  next: Promise<void> | undefined;
}

export class DirectorySyncGroup {
  private readonly directories = new Map<string, DirectoryState>();

  constructor(private readonly syncNow: SyncNow) {}

  /** Resolves once a directory fsync that began after this call has succeeded. */
  sync(dir: string): Promise<void> {
    let state = this.directories.get(dir);
    if (!state) {
      state = { running: undefined, next: undefined };
      this.directories.set(dir, state);
    }
    if (state.next) return state.next;
    const current = state;
    const after = current.running ?? Promise.resolve();
    const next: Promise<void> = after
      .catch(() => undefined)
      .then(() => {
        // From here on, new callers need a later fsync: this one may have begun before their change.
        current.next = undefined;
        current.running = next;
        return this.syncNow(dir);
      })
      .finally(() => {
        if (current.running === next) current.running = undefined;
        if (!current.running && !current.next) this.directories.delete(dir);
      });
    current.next = next;
    return next;
  }
}
