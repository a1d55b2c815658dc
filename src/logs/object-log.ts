import type { OwnerRef } from '../runtime/labels.js';
import type { ContainerLogStream, ContainerRuntime, LogLine, ManagedContainer } from '../runtime/runtime.js';
import { systemClock, type Clock } from '../util/clock.js';

// The log of a Project (every instance) or a Lease (its one container), read from the
// containers that run it. Following picks up instances that start later (on Docker's
// change events, with a poll as the safety net) and lets instances that go away end
// quietly; a Lease's log ends when its container is gone.

/** One line of an object's log: which instance wrote it, on which stream, and when. */
export interface LogRecord extends LogLine {
  instance: string;
}

export type LogTarget = { kind: Extract<OwnerRef['kind'], 'Project' | 'Lease'>; name: string };

export type LogEndReason = 'complete' | 'container-gone' | 'closed';

export interface LogEnd {
  reason: LogEndReason;
  message: string;
}

export interface ObjectLogOptions {
  follow: boolean;
  /** Per instance: the last N lines each has written so far. */
  tail?: number;
  /** RFC 3339: only lines stamped at or after it. */
  since?: string;
  /** How often the instance list is read again while following (a safety net for missed events). */
  pollIntervalMs?: number;
  clock?: Clock;
  /** Told when following finds nothing running, so a user knows why nothing comes. */
  onWaiting?: (message: string) => void;
  /** Problems that do not end the log (an instance's stream broke; a poll failed). */
  onProblem?: (message: string) => void;
}

export interface ObjectLogFollow {
  /** Resolves once the instances were listed; rejects when they cannot be (nothing was read). */
  started: Promise<void>;
  /** Resolves when the log ends; rejects when it cannot be read at all (Docker unreachable). */
  done: Promise<LogEnd>;
  /** Stops following and releases every engine stream. */
  close(): void;
}

export const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** Docker's state names for containers whose process exists and may still write. */
/**
 * A container whose stream just ended is not followed again at once: Docker may still call
 * it running for a moment after it stopped, and re-reading it then would spin.
 */
const REATTACH_COOLDOWN_MS = 500;
const LIVE_STATES: ReadonlySet<ManagedContainer['state']> = new Set(['running', 'paused', 'restarting']);

export function isLive(container: ManagedContainer): boolean {
  return LIVE_STATES.has(container.state);
}

/**
 * `web-3fa9c1`: the owner's name and the random suffix Luma gives container names, short
 * enough to prefix every line; the container id's start when the name has another shape.
 */
export function instanceName(container: ManagedContainer): string {
  const suffix = /-([0-9a-f]{6})$/.exec(container.name)?.[1];
  return suffix ? `${container.owner.name}-${suffix}` : container.id.slice(0, 12);
}

/** Oldest first; RFC3339Nano in UTC, as Docker writes it, sorts as text. */
function byTime(a: LogRecord, b: LogRecord): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : 0;
}

export function followObjectLog(
  runtime: ContainerRuntime,
  target: LogTarget,
  options: ObjectLogOptions,
  onRecord: (record: LogRecord) => void,
): ObjectLogFollow {
  const follower = new ObjectLogFollower(runtime, target, options, onRecord);
  const done = follower.run();
  return {
    started: follower.started,
    done,
    close: () => follower.finish({ reason: 'closed', message: 'closed by the reader' }),
  };
}

class ObjectLogFollower {
  private readonly clock: Clock;
  private readonly attached = new Map<string, ContainerLogStream>();
  private readonly attaching = new Set<string>();
  /** Per container: the time of the last line shown, so a restarted container resumes after it. */
  private readonly lastShown = new Map<string, string>();
  /** Per container: when its follow stream last ended (clock time). */
  private readonly endedAt = new Map<string, number>();
  private cooldownTimer: unknown;
  /** New output only: instances that were not live when following began start from here. */
  private readonly startedAt: string;
  private followedLive = false;
  private finished = false;
  private pollTimer: unknown;
  private unwatch: (() => void) | undefined;
  private scan: Promise<void> | undefined;
  private scanAgain = false;
  private settle: ((end: LogEnd) => void) | undefined;
  private markStarted: (() => void) | undefined;
  private failStart: ((error: unknown) => void) | undefined;
  readonly started = new Promise<void>((resolve, reject) => {
    this.markStarted = resolve;
    this.failStart = reject;
  });

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly target: LogTarget,
    private readonly options: ObjectLogOptions,
    private readonly onRecord: (record: LogRecord) => void,
  ) {
    this.clock = options.clock ?? systemClock;
    this.startedAt = new Date(this.clock.now()).toISOString();
  }

  async run(): Promise<LogEnd> {
    const ended = new Promise<LogEnd>((resolve) => (this.settle = resolve));
    // Whoever awaits `done` hears of the failure; `started` must not also count as unhandled.
    this.started.catch(() => undefined);
    let containers: ManagedContainer[];
    try {
      containers = await this.runtime.list(this.target);
    } catch (error) {
      this.failStart?.(error);
      throw error;
    }
    this.markStarted?.();
    if (this.finished) return ended;
    const live = containers.filter(isLive);
    if (!this.options.follow) {
      // Nothing runs: what the last instance wrote is the most useful answer.
      const shown =
        live.length > 0 ? live : containers.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, 1);
      const records = (await Promise.all(shown.map((container) => this.readAll(container)))).flat().sort(byTime);
      for (const record of records) if (!this.finished) this.onRecord(record);
      this.finish({ reason: 'complete', message: this.endMessage(containers.length, records.length) });
      return ended;
    }
    if (live.length === 0) {
      const last = containers.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
      if (last) {
        for (const record of await this.readAll(last)) if (!this.finished) this.onRecord(record);
      }
    }
    if (this.finished) return ended;
    this.unwatch = this.runtime.watchChanges((owner) => {
      if (owner.kind === this.target.kind && owner.name === this.target.name) this.rescan();
    });
    for (const container of live) this.attach(container, { tail: this.options.tail, since: this.options.since });
    if (live.length === 0) this.tellWaiting();
    this.schedulePoll();
    return ended;
  }

  /** Said when nothing was printed, so an empty answer is not mistaken for a broken command. */
  private endMessage(containers: number, records: number): string {
    const object = `${this.target.kind.toLowerCase()}/${this.target.name}`;
    if (containers === 0) return `${object} has no containers: nothing to show`;
    if (records === 0)
      return `${object}: nothing written${this.options.tail !== undefined || this.options.since !== undefined ? ' in the lines asked for' : ''}`;
    return 'end of the log';
  }

  finish(end: LogEnd): void {
    if (this.finished) return;
    this.finished = true;
    if (this.pollTimer !== undefined) this.clock.clearTimeout(this.pollTimer);
    if (this.cooldownTimer !== undefined) this.clock.clearTimeout(this.cooldownTimer);
    this.unwatch?.();
    for (const stream of this.attached.values()) stream.close();
    this.attached.clear();
    this.settle?.(end);
  }

  /** Reads a container's log as it is now (tail and since apply) and remembers where it ended. */
  private async readAll(container: ManagedContainer): Promise<LogRecord[]> {
    const stream = await this.runtime.logs(container.id, { follow: false, ...this.sliceOptions() });
    if (!stream) return [];
    const instance = instanceName(container);
    const records: LogRecord[] = [];
    for await (const line of stream) records.push({ instance, ...line });
    const last = records.at(-1);
    if (last) this.lastShown.set(container.id, last.time);
    return records;
  }

  private sliceOptions(): { tail?: number; since?: string } {
    return {
      ...(this.options.tail !== undefined ? { tail: this.options.tail } : {}),
      ...(this.options.since !== undefined ? { since: this.options.since } : {}),
    };
  }

  private attach(container: ManagedContainer, from: { tail?: number | undefined; since?: string | undefined }): void {
    if (this.attached.has(container.id) || this.attaching.has(container.id)) return;
    this.attaching.add(container.id);
    // Lines at or before this were shown already (the same container, before it stopped).
    const shownUpTo = this.lastShown.get(container.id);
    void (async () => {
      let stream: ContainerLogStream | undefined;
      try {
        stream = await this.runtime.logs(container.id, {
          follow: true,
          ...(from.tail !== undefined ? { tail: from.tail } : {}),
          ...(from.since !== undefined ? { since: from.since } : {}),
        });
      } catch (error) {
        this.options.onProblem?.(`cannot read the log of ${instanceName(container)}: ${describe(error)}`);
      } finally {
        this.attaching.delete(container.id);
      }
      if (!stream) return;
      if (this.finished) {
        stream.close();
        return;
      }
      this.attached.set(container.id, stream);
      this.followedLive = true;
      const instance = instanceName(container);
      try {
        for await (const line of stream) {
          if (this.finished) break;
          if (shownUpTo !== undefined && line.time <= shownUpTo) continue;
          this.lastShown.set(container.id, line.time);
          this.onRecord({ instance, ...line });
        }
      } catch (error) {
        if (!this.finished) this.options.onProblem?.(`the log of ${instance} broke off: ${describe(error)}`);
      } finally {
        if (this.attached.get(container.id) === stream) this.attached.delete(container.id);
        this.endedAt.set(container.id, this.clock.now());
        // The instance stopped or went away; find out whether another took its place.
        if (!this.finished) this.rescan();
      }
    })();
  }

  /** Reads the instance list again; one scan at a time, and one more if asked meanwhile. */
  private rescan(): void {
    if (this.finished) return;
    if (this.scan) {
      this.scanAgain = true;
      return;
    }
    this.scan = this.scanOnce()
      .catch((error: unknown) =>
        this.options.onProblem?.(
          `cannot list the instances of ${this.target.kind.toLowerCase()}/${this.target.name}: ${describe(error)}`,
        ),
      )
      .finally(() => {
        this.scan = undefined;
        if (this.scanAgain) {
          this.scanAgain = false;
          this.rescan();
        }
      });
  }

  private async scanOnce(): Promise<void> {
    const live = (await this.runtime.list(this.target)).filter(isLive);
    if (this.finished) return;
    let coolingDown = false;
    for (const container of live) {
      const sinceEnd = this.clock.now() - (this.endedAt.get(container.id) ?? Number.NEGATIVE_INFINITY);
      if (sinceEnd < REATTACH_COOLDOWN_MS) {
        coolingDown = true;
        this.rescanAfter(REATTACH_COOLDOWN_MS - sinceEnd);
        continue;
      }
      const resumeAt = this.lastShown.get(container.id);
      this.attach(container, { since: latest(resumeAt ?? this.startedAt, this.options.since) });
    }
    if (coolingDown || this.attached.size > 0 || this.attaching.size > 0) return;
    if (this.target.kind === 'Lease' && this.followedLive) {
      this.finish({ reason: 'container-gone', message: `the container of lease/${this.target.name} is gone` });
      return;
    }
    if (this.followedLive) {
      this.followedLive = false;
      this.tellWaiting();
    }
  }

  private rescanAfter(ms: number): void {
    if (this.cooldownTimer !== undefined) return;
    this.cooldownTimer = this.clock.setTimeout(() => {
      this.cooldownTimer = undefined;
      this.rescan();
    }, ms);
  }

  private schedulePoll(): void {
    if (this.finished) return;
    this.pollTimer = this.clock.setTimeout(() => {
      this.rescan();
      this.schedulePoll();
    }, this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
  }

  private tellWaiting(): void {
    const what =
      this.target.kind === 'Project'
        ? `project/${this.target.name} has no running instance`
        : `lease/${this.target.name} has no running container`;
    this.options.onWaiting?.(`${what}; waiting for one to start`);
  }
}

function latest(a: string, b: string | undefined): string {
  if (b === undefined) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
