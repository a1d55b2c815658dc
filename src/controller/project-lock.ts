// One lock per project for the three jobs that act on its instances: the reconcile, the
// paused-resume fast path and an eviction for memory. The shortcuts ask with tryLock and
// are refused while anything holds the project (they are optional: the reconcile does
// their work anyway); the reconcile waits with lock, so that what a shortcut did is part
// of what it reads.

export type ProjectJob = 'reconcile' | 'resume' | 'evict';

export type Release = () => void;

interface Held {
  job: ProjectJob;
  released: Promise<void>;
}

export class ProjectLocks {
  private readonly held = new Map<string, Held>();

  /** Takes the project's lock now, or answers undefined when another job holds it. */
  tryLock(name: string, job: ProjectJob): Release | undefined {
    if (this.held.has(name)) return undefined;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held.set(name, { job, released });
    return () => {
      this.held.delete(name);
      release();
    };
  }

  /** Waits until no job holds the project, then takes its lock. */
  async lock(name: string, job: ProjectJob): Promise<Release> {
    for (;;) {
      const taken = this.tryLock(name, job);
      if (taken) return taken;
      await this.held.get(name)?.released;
    }
  }

  /** The job holding the project, if any: a project being worked on is nobody's to evict. */
  holder(name: string): ProjectJob | undefined {
    return this.held.get(name)?.job;
  }

  /** Runs `work` under the project's lock when it is free; undefined when refused. */
  async withTryLock<T>(name: string, job: ProjectJob, work: () => Promise<T>): Promise<T | undefined> {
    const release = this.tryLock(name, job);
    if (!release) return undefined;
    try {
      return await work();
    } finally {
      release();
    }
  }
}
