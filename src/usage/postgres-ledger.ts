import pg from 'pg';
import { ChangeListener } from '../store/postgres/change-listener.js';
import { migrate } from '../store/postgres/migrations.js';
import type { Ledger } from './ledger.js';
import { normaliseRecord, usageRecordProblem, type UsageRecord } from './record.js';
import { inTransaction } from '../store/postgres/transaction.js';

// The usage ledger in PostgreSQL, for controllers that share a database: one row per
// ended lease, the lease's uid unique, so a lease is billed once however many controllers
// (an old leader and its successor) try. Appends take a table lock, so their sequence
// numbers commit in order and every process reads the records in the same order; each
// process holds them all in memory (records() is synchronous), read again after its own
// appends and whenever another process's append is announced.

const CHANNEL = 'luma_usage';

export class PostgresLedger implements Ledger {
  private readonly list: UsageRecord[] = [];
  private readonly uids = new Set<string>();
  private last = 0;
  private closed = false;
  private refreshing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly listener: ChangeListener,
  ) {}

  static async open(connectionString: string): Promise<PostgresLedger> {
    const pool = new pg.Pool({ connectionString, max: 2, connectionTimeoutMillis: 3_000, application_name: 'luma' });
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    let ledger: PostgresLedger | undefined;
    const listener = new ChangeListener({
      connectionString,
      channel: CHANNEL,
      onChange: () => ledger?.refresh(),
      onConnection: () => undefined,
    });
    try {
      await migrate(pool);
      ledger = new PostgresLedger(pool, listener);
      await listener.start();
      await ledger.refreshing;
      return ledger;
    } catch (error) {
      await listener.stop();
      await pool.end();
      throw error;
    }
  }

  has(leaseUid: string): boolean {
    return this.uids.has(leaseUid);
  }

  records(): readonly UsageRecord[] {
    return this.list;
  }

  async append(record: UsageRecord): Promise<boolean> {
    if (this.closed) throw new Error('the usage ledger is closed');
    const problem = usageRecordProblem(record);
    if (problem !== undefined) throw new TypeError(`not a usage record: ${problem}`);
    const entry = normaliseRecord(record);
    const inserted = await this.insert(entry);
    // Read after the connection is back in the pool: the read needs one of its own.
    await this.refresh();
    return inserted;
  }

  private async insert(entry: UsageRecord): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      await client.query('LOCK TABLE luma_usage IN EXCLUSIVE MODE');
      const { rows } = await client.query<{ seq: string }>(
        `INSERT INTO luma_usage (seq, lease_uid, record)
         SELECT coalesce(max(seq), 0) + 1, $1, $2 FROM luma_usage
         ON CONFLICT (lease_uid) DO NOTHING RETURNING seq`,
        [entry.leaseUid, entry],
      );
      if (rows.length > 0) await client.query('SELECT pg_notify($1, $2)', [CHANNEL, rows[0]?.seq]);
      return rows.length > 0;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.stop();
    await this.refreshing;
    await this.pool.end();
  }

  /** Reads the records past the last one held; one read at a time, in order. */
  private refresh(): Promise<void> {
    this.refreshing = this.refreshing.then(() => this.readNew()).catch(() => undefined);
    return this.refreshing;
  }

  private async readNew(): Promise<void> {
    if (this.closed) return;
    const { rows } = await this.pool.query<{ seq: string; record: UsageRecord }>(
      'SELECT seq, record FROM luma_usage WHERE seq > $1 ORDER BY seq',
      [this.last],
    );
    for (const row of rows) {
      this.last = Number(row.seq);
      if (this.uids.has(row.record.leaseUid)) continue;
      this.uids.add(row.record.leaseUid);
      this.list.push(Object.freeze(normaliseRecord(row.record)));
    }
  }
}
