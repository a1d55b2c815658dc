import type pg from 'pg';

/**
 * Runs `work` in one transaction on a connection of `pool`: committed if it returns,
 * rolled back if it throws (the error goes on), the connection given back either way.
 * A failed rollback is not reported over the error that caused it: the connection is
 * broken then, and the pool drops it.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
