import pg from 'pg';

// The store's pool of connections to PostgreSQL, and what it knows of the database's
// health: every query that fails for want of a connection marks it lost, every one that
// gets an answer marks it found. Who asked (healthz, a condition, an event) is told when
// that changes, once per change.

export interface ConnectionState {
  connected: boolean;
  /** When the state last changed. */
  since: string;
  /** Why the database was lost, while it is. */
  error?: string;
}

const POOL_SIZE = 4;
const CONNECT_TIMEOUT_MS = 3_000;
const IDLE_TIMEOUT_MS = 10_000;
/** Node's and PostgreSQL's ways of saying the connection, not the statement, failed. */
const LOST_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
const LOST_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|connection error|not queryable/i;

export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (LOST_CODES.has(code) || code.startsWith('08') || code.startsWith('57P')))
    return true;
  return LOST_MESSAGE.test(error.message);
}

export class StoreConnection {
  readonly pool: pg.Pool;
  private current: ConnectionState = { connected: true, since: new Date().toISOString() };

  constructor(
    connectionString: string,
    private readonly onChange?: (state: ConnectionState) => void,
  ) {
    this.pool = new pg.Pool({
      connectionString,
      max: POOL_SIZE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: IDLE_TIMEOUT_MS,
      application_name: 'luma',
    });
    // A connection that breaks emits 'error' (on the pool while idle, on the client while
    // checked out or ending); unheard, it would end the process.
    this.pool.on('error', (error) => this.report(error));
    this.pool.on('connect', (client) => client.on('error', (error) => this.report(error)));
  }

  state(): ConnectionState {
    return { ...this.current };
  }

  /** Records an answer (undefined) or a failure; only a failure of the connection counts as lost. */
  report(error: Error | undefined): void {
    if (error !== undefined && !isConnectionError(error)) return;
    const connected = error === undefined;
    if (connected === this.current.connected) return;
    this.current = { connected, since: new Date().toISOString(), ...(error ? { error: error.message } : {}) };
    this.onChange?.(this.state());
  }

  /** Runs `work` in a transaction: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.report(error as Error);
      throw error;
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      this.report(undefined);
      return result;
    } catch (error) {
      if (isConnectionError(error)) broken = error as Error;
      else await client.query('ROLLBACK').catch((rollback: unknown) => (broken = rollback as Error));
      this.report(broken);
      throw error;
    } finally {
      // A connection that failed is not given back to be used again.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
