import { startHeartbeat } from '../logs/heartbeat.js';
import { followObjectLog, type LogEndReason, type LogRecord, type LogTarget } from '../logs/object-log.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { LogQuery } from './log-query.js';
import { errorMessage } from '../util/error-message.js';

// One API client reading one object's log, whatever the wire (plain text, server-sent
// events, WebSocket): the log follower, heartbeats while following, and the reasons a
// log ends that only the API knows (the object was deleted, the server is shutting down).

export type SessionEndReason = Exclude<LogEndReason, 'closed'> | 'object-deleted' | 'shutdown' | 'error';

export interface SessionEnd {
  reason: SessionEndReason;
  message: string;
}

/** Where a session writes; each wire implements it. */
export interface LogSink {
  record(record: LogRecord): void;
  heartbeat(): void;
  /** Something the reader should know that is not a log line (nothing runs yet). */
  notice(message: string): void;
  /** The log ended for `reason`; not called when the reader itself went away. */
  end(end: SessionEnd): void;
}

export interface LogSession {
  /** Resolves once the instances were listed; rejects (nothing written yet) when they cannot be. */
  started: Promise<void>;
  /** Resolves when the session is over, for any reason. */
  finished: Promise<void>;
  /** The reader went away: release everything, write nothing more. */
  close(): void;
}

export interface LogSessionOptions {
  store: ObjectStore;
  runtime: ContainerRuntime;
  heartbeatIntervalMs: number;
  pollIntervalMs?: number;
  clock?: Clock;
  logger: Logger;
}

export class LogSessions {
  private readonly open = new Set<OpenSession>();
  private readonly clock: Clock;

  constructor(private readonly options: LogSessionOptions) {
    this.clock = options.clock ?? systemClock;
  }

  start(target: LogTarget, query: LogQuery, sink: LogSink): LogSession {
    const session = new OpenSession(target, sink, () => this.open.delete(session));
    session.follow(this.options.runtime, query, this.clock, this.options);
    this.open.add(session);
    if (query.follow) {
      session.endWhenDeleted(this.options.store);
      session.beat(this.clock, this.options.heartbeatIntervalMs);
    }
    return session.handle();
  }

  /** Ends every open session: the server is going away. */
  shutdown(): void {
    for (const session of [...this.open])
      session.finish({ reason: 'shutdown', message: 'the Luma API is shutting down' });
  }
}

/** One reader's log: what it holds open, released once by finish() whatever ends it. */
class OpenSession {
  private ended = false;
  private readonly releases: Array<() => void> = [];
  private started: Promise<void> = Promise.resolve();
  private markFinished: () => void = () => undefined;
  private readonly finished = new Promise<void>((resolve) => (this.markFinished = resolve));

  constructor(
    private readonly target: LogTarget,
    private readonly sink: LogSink,
    private readonly forget: () => void,
  ) {}

  follow(runtime: ContainerRuntime, query: LogQuery, clock: Clock, options: LogSessionOptions): void {
    const { logger } = options;
    const where = { kind: this.target.kind, name: this.target.name };
    const follow = followObjectLog(
      runtime,
      this.target,
      {
        follow: query.follow,
        tail: query.tail,
        since: query.since,
        clock,
        pollIntervalMs: options.pollIntervalMs,
        onWaiting: (message) => {
          if (!this.ended) this.sink.notice(message);
        },
        onProblem: (message) => logger.warn(where, message),
      },
      (record) => {
        if (!this.ended) this.sink.record(record);
      },
    );
    this.releases.push(() => follow.close());
    this.started = follow.started;
    // The follower lists the instances first; a failure there (Docker unreachable) comes
    // before anything is written, so the wire answers it with an error status instead.
    let isStarted = false;
    follow.started.then(
      () => (isStarted = true),
      () => undefined,
    );
    follow.done.then(
      (end) => this.finish(end.reason === 'closed' ? undefined : { reason: end.reason, message: end.message }),
      (error: unknown) => {
        const message = errorMessage(error);
        if (isStarted) logger.warn({ ...where, err: message }, 'log stream failed');
        this.finish(isStarted ? { reason: 'error', message } : undefined);
      },
    );
  }

  endWhenDeleted(store: ObjectStore): void {
    const { kind: targetKind, name } = this.target;
    this.releases.push(
      store.watch((event) => {
        const { kind, metadata } = event.object;
        if (event.type === 'DELETED' && kind === targetKind && metadata.name === name)
          this.finish({ reason: 'object-deleted', message: `${kind.toLowerCase()}/${metadata.name} was deleted` });
      }),
    );
  }

  beat(clock: Clock, intervalMs: number): void {
    this.releases.push(
      startHeartbeat(clock, intervalMs, () => {
        if (!this.ended) this.sink.heartbeat();
      }),
    );
  }

  finish(end: SessionEnd | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.forget();
    for (const release of this.releases) release();
    if (end) this.sink.end(end);
    this.markFinished();
  }

  handle(): LogSession {
    return { started: this.started, finished: this.finished, close: () => this.finish(undefined) };
  }
}
