import type { HealthReport } from '../api/api-options.js';
import type { EventLog } from '../events/event-log.js';
import type { Condition } from '../model/types.js';
import type { ConnectionState } from '../store/postgres/store-connection.js';
import type { Logger } from '../util/logger.js';

// The shared database's outages, reported once each as the engine's are: a log line and
// an event when it is lost and when it is back (then everything is reconciled at once),
// and its state in /healthz. The store itself reconnects and catches up on its own.

export const DATABASE_REACHABLE = 'DatabaseReachable';

export interface DatabaseReports {
  /** Told by the store when the database is lost or found. */
  observe(state: ConnectionState): void;
  /** Adds the database to a health report: degraded while it does not answer. */
  decorate(report: HealthReport, state: ConnectionState | undefined): HealthReport;
}

export function databaseReports(
  events: () => EventLog | undefined,
  controller: () => { requestResync(): void } | undefined,
  logger: Logger,
): DatabaseReports {
  const ref = { kind: 'Database', name: 'store' };
  return {
    observe: (state) => {
      const record = events()?.recorder('controller');
      if (!state.connected) {
        logger.error(
          { component: 'store', err: state.error },
          'PostgreSQL unreachable; serving from memory, writes fail',
        );
        record?.record(ref, 'Warning', 'DatabaseUnreachable', `the PostgreSQL store does not answer: ${state.error}`);
        return;
      }
      logger.info({ component: 'store' }, 'PostgreSQL reachable again; reconciling everything');
      record?.record(ref, 'Normal', 'DatabaseReconnected', 'the PostgreSQL store answers again');
      controller()?.requestResync();
    },
    decorate: (report, state) => {
      if (!state) return report;
      const database = state.connected
        ? { reachable: true }
        : { reachable: false, error: state.error ?? 'unreachable' };
      const conditions = [...(report.conditions ?? []), databaseCondition(state)];
      return { ...report, status: database.reachable ? report.status : 'degraded', database, conditions };
    },
  };
}

/** `DatabaseReachable`, as `kubectl describe node` shows a node's Ready: status, reason, since when. */
export function databaseCondition(state: ConnectionState): Condition {
  return state.connected
    ? {
        type: DATABASE_REACHABLE,
        status: 'True',
        reason: 'Connected',
        message: 'the PostgreSQL store answers',
        lastTransitionTime: state.since,
      }
    : {
        type: DATABASE_REACHABLE,
        status: 'False',
        reason: 'Unreachable',
        message: `the PostgreSQL store does not answer: ${state.error ?? 'unreachable'}; serving from memory, writes fail`,
        lastTransitionTime: state.since,
      };
}
