import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { RuntimeFence } from '../runtime/fenced-runtime.js';
import { FencedError, LeaderElection, type Leadership } from '../store/postgres/leader-election.js';
import type { WriteFence } from '../store/postgres/postgres-store.js';
import type { Logger } from '../util/logger.js';

// Which of the controllers sharing a PostgreSQL store acts (issue 22). The election runs on
// a pool of its own, so that a store busy with writes or a watch catching up never delays a
// renewal past the lease. This process acts only from the moment it leads. Once it has led
// and the database says another holds the lease, it has no safe way back (its queue, timers
// and in-flight Docker calls were decided as a leader), so it is told to stop at once, as
// kube-controller-manager exits. A lease that lapsed unanswered (the database is away) is
// only logged: the fence refuses every store write meanwhile, the in-process proxy keeps
// serving, and the next answer says whether this process leads again or must exit.

export interface LeaderReport {
  /** Whether this process leads now. */
  leader: boolean;
  /** This process's identity in the election. */
  id: string;
  /** The current leader as the database has it (none when its lease has ended). */
  current?: { id: string; epoch: number };
}

export interface ControlPlaneLeadership {
  readonly id: string;
  leading(): boolean;
  /** Passed by every write of the controller: refused once this process no longer leads. */
  fence(): WriteFence;
  /** Asked before every Docker call that changes something: throws FencedError unless this process holds the lease now. */
  runtimeFence(): RuntimeFence;
  /** Starts electing; `onLead` runs once, the first time this process leads. */
  start(onLead: () => Promise<void>): Promise<void>;
  report(): Promise<LeaderReport>;
  /** Stops electing and hands the lease back: call once this process no longer acts. Stops once. */
  stop(): Promise<void>;
}

/** `onLost` is called when, after having led, the database names another leader. */
export function createLeadership(url: string, logger: Logger, onLost: (epoch: number) => void): ControlPlaneLeadership {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'luma-election' });
  // A broken idle connection is the election's to notice (it cannot renew); not a crash.
  pool.on('error', () => undefined);
  const id = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  let led = false;
  let lead: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  const log = logger.child({ component: 'election', id });
  const changed = (next: Leadership): void => {
    if (next.leading && !led) {
      led = true;
      log.info({ epoch: next.epoch }, 'leading: this controller reconciles now');
      void lead?.().catch((error: unknown) => log.error({ err: String(error) }, 'starting to reconcile failed'));
    } else if (next.leading) log.info({ epoch: next.epoch }, 'leading again after the database answered');
    else if (led && next.reason === 'held') onLost(next.epoch);
    else if (led)
      log.warn({ epoch: next.epoch }, 'the lease lapsed unrenewed; every store write is refused until it is');
  };
  const election = new LeaderElection({ pool, id, onChange: changed });
  return {
    id,
    leading: () => election.leadership.leading,
    fence: () => election.fence(),
    runtimeFence: () => () => {
      if (!election.holds()) throw new FencedError(election.leadership.epoch);
    },
    start: async (onLead) => {
      lead = onLead;
      log.info('standing for leader');
      await election.start();
    },
    report: () => leaderReport(election),
    stop: () => (stopping ??= handBack(election, pool)),
  };
}

/** Stops electing and ends the lease now: a standby leads at its next try, not after the lease runs out. */
async function handBack(election: LeaderElection, pool: pg.Pool): Promise<void> {
  election.stop();
  await pool.query('UPDATE luma_leader SET expires_at = now() WHERE holder = $1', [election.id]).catch(() => undefined);
  await pool.end();
}

async function leaderReport(election: LeaderElection): Promise<LeaderReport> {
  const report: LeaderReport = { leader: election.leadership.leading, id: election.id };
  try {
    const row = await election.leader();
    if (row.holder !== null && row.live) report.current = { id: row.holder, epoch: row.epoch };
  } catch {
    // The database is away: /healthz says so under `database`; who leads is unknown.
  }
  return report;
}
