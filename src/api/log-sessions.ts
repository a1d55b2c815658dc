import { startHeartbeat } from '../logs/heartbeat.js';
import { followObjectLog, type LogEndReason, type LogRecord, type LogTarget } from '../logs/object-log.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { LogQuery } from './log-query.js';

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
  private readonly open = new Set<(end: SessionEnd) => void>();
  private readonly clock: Clock;

  constructor(private readonly options: LogSessionOptions) {
    this.clock = options.clock ?? systemClock;
  }

  start(target: LogTarget, query: LogQuery, sink: LogSink): LogSession {
    const { store, logger } = this.options;
    let ended = false;
    let stopHeartbeat: (() => void) | undefined;
    let unwatchStore: (() => void) | undefined;
    let markFinished: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (markFinished = resolve));

    const finish = (end: SessionEnd | undefined): void => {
      if (ended) return;
      ended = true;
      this.open.delete(finish);
      stopHeartbeat?.();
      unwatchStore?.();
      follow.close();
      if (end) sink.end(end);
      markFinished();
    };

    const follow = followObjectLog(
      this.options.runtime,
      target,
      {
        follow: query.follow,
        ...(query.tail !== undefined ? { tail: query.tail } : {}),
        ...(query.since !== undefined ? { since: query.since } : {}),
        clock: this.clock,
        ...(this.options.pollIntervalMs !== undefined ? { pollIntervalMs: this.options.pollIntervalMs } : {}),
        onWaiting: (message) => {
          if (!ended) sink.notice(message);
        },
        onProblem: (message) => logger.warn({ kind: target.kind, name: target.name }, message),
      },
      (record) => {
        if (!ended) sink.record(record);
      },
    );
    this.open.add(finish);

    if (query.follow) {
      unwatchStore = store.watch((event) => {
        const { kind, metadata } = event.object;
        if (event.type === 'DELETED' && kind === target.kind && metadata.name === target.name) {
          finish({ reason: 'object-deleted', message: `${kind.toLowerCase()}/${metadata.name} was deleted` });
        }
      });
      stopHeartbeat = startHeartbeat(this.clock, this.options.heartbeatIntervalMs, () => {
        if (!ended) sink.heartbeat();
      });
    }

    // The follower lists the instances first; a failure there (Docker unreachable) comes
    // before anything is written, so the wire answers it with an error status instead.
    let isStarted = false;
    follow.started.then(
      () => (isStarted = true),
      () => undefined,
    );
    follow.done.then(
      (end) => finish(end.reason === 'closed' ? undefined : { reason: end.reason, message: end.message }),
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        if (isStarted) logger.warn({ kind: target.kind, name: target.name, err: message }, 'log stream failed');
        finish(isStarted ? { reason: 'error', message } : undefined);
      },
    );

    return { started: follow.started, finished, close: () => finish(undefined) };
  }

  /** Ends every open session: the server is going away. */
  shutdown(): void {
    for (const finish of [...this.open]) finish({ reason: 'shutdown', message: 'the Luma API is shutting down' });
  }
}
