import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { WriteFence } from './postgres-store.js';

// Which of the controllers sharing a database leads: one row, luma_leader, holds the
// leader's id, an epoch and when its lease ends. Every controller tries to take or renew
// it each RENEW period; a controller may take it only once the lease has ended, and taking
// it raises the epoch. The time is the database's own (now()), so the controllers' clocks
// do not matter.
//
// Fencing: the leader's store writes go through fence(), which, inside the write's own
// transaction, checks that the row still names this leader at this epoch with an unexpired
// lease. A leader that was paused (SIGSTOP) or cut off, and resumes after another took
// over, finds a different epoch there and its writes are refused, whatever it believes.

export const LEASE_MS = 3_000;
export const RENEW_MS = 1_000;

export class FencedError extends Error {
  readonly code = 'Fenced';
  constructor(epoch: number) {
    super(`this controller no longer leads (its epoch ${epoch} has ended); the write was refused`);
    this.name = 'FencedError';
  }
}

export interface Leadership {
  leading: boolean;
  epoch: number;
  /**
   * Why this controller does not lead: `held` when the database answered that another
   * holds the lease, `lapsed` when its own lease ran out without an answer (the database
   * is away, or this process was paused); absent while leading and before the first try.
   */
  reason?: 'held' | 'lapsed';
}

/** The row as the database has it now: who leads, at which epoch, until when. */
export interface LeaderRow {
  holder: string | null;
  epoch: number;
  expiresAt: Date;
  /** Whether the lease still holds by the database's clock. */
  live: boolean;
}

export interface LeaderElectionOptions {
  pool: pg.Pool;
  /** Told when this controller starts or stops leading. */
  onChange: (leadership: Leadership) => void;
  id?: string;
  leaseMs?: number;
  renewMs?: number;
}

export class LeaderElection {
  readonly id: string;
  private current: Leadership = { leading: false, epoch: 0 };
  private timer: NodeJS.Timeout | undefined;
  /** When the last renewal succeeded, by this process's monotonic clock. */
  private renewedAt = 0;
  private stopped = false;

  constructor(private readonly options: LeaderElectionOptions) {
    this.id = options.id ?? randomUUID();
  }

  get leadership(): Leadership {
    return { ...this.current };
  }

  /** Tries once now, then every renew period. */
  async start(): Promise<void> {
    await this.attempt();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Whether this process may act now, by its own monotonic clock: it leads and its last
   * renewal, counted from when it was asked, is younger than the lease. The database's
   * lease began no earlier than that ask, so this ends first: a process paused past its
   * lease answers false the moment it resumes, before any timer has run.
   */
  holds(): boolean {
    return this.current.leading && performance.now() - this.renewedAt < (this.options.leaseMs ?? LEASE_MS);
  }

  /** Checked inside a write's transaction: the write is refused unless this leader's epoch still holds. */
  fence(): WriteFence {
    return async (client) => {
      const { epoch } = this.current;
      const { rows } = await client.query(
        'SELECT 1 FROM luma_leader WHERE holder = $1 AND epoch = $2 AND expires_at > now() FOR SHARE',
        [this.id, epoch],
      );
      if (rows.length === 0) throw new FencedError(epoch);
    };
  }

  /** Who leads according to the database (the lease may have ended: compare expiresAt). */
  async leader(): Promise<LeaderRow> {
    const { rows } = await this.options.pool.query<{
      holder: string | null;
      epoch: string;
      expires_at: Date;
      live: boolean;
    }>('SELECT holder, epoch, expires_at, expires_at > now() AS live FROM luma_leader');
    const row = rows[0];
    if (!row) throw new Error('the luma_leader row is missing: the schema was not migrated');
    return { holder: row.holder, epoch: Number(row.epoch), expiresAt: row.expires_at, live: row.live };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.attempt().finally(() => this.schedule()), this.options.renewMs ?? RENEW_MS);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    const leaseMs = this.options.leaseMs ?? LEASE_MS;
    // Woken after a pause (SIGSTOP, a long GC) past its own lease: it steps down before it
    // asks the database, so nothing this process runs next believes it still leads.
    if (this.current.leading && performance.now() - this.renewedAt >= leaseMs)
      this.set({ leading: false, epoch: this.current.epoch, reason: 'lapsed' });
    const asked = performance.now();
    try {
      const { rows } = await this.options.pool.query<{ epoch: string }>(
        `UPDATE luma_leader
            SET epoch = CASE WHEN holder = $1 AND expires_at > now() THEN epoch ELSE epoch + 1 END,
                holder = $1,
                expires_at = now() + make_interval(secs => $2 / 1000.0)
          WHERE holder = $1 OR expires_at <= now()
          RETURNING epoch`,
        [this.id, leaseMs],
      );
      const row = rows[0];
      if (row) this.renewedAt = asked;
      this.set(
        row
          ? { leading: true, epoch: Number(row.epoch) }
          : { leading: false, epoch: this.current.epoch, reason: 'held' },
      );
    } catch {
      // The database is away: a leader that cannot renew within its lease must assume it lost.
      if (performance.now() - this.renewedAt >= leaseMs)
        this.set({ leading: false, epoch: this.current.epoch, reason: this.current.reason ?? 'lapsed' });
    }
  }

  private set(next: Leadership): void {
    if (this.stopped) return;
    const { leading, epoch, reason } = this.current;
    const changed = next.leading !== leading || next.epoch !== epoch || next.reason !== reason;
    this.current = next;
    if (changed) this.options.onChange(this.leadership);
  }
}
