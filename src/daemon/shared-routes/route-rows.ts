import type pg from 'pg';
import type { WriteFence } from '../../store/postgres/postgres-store.js';
import type { DeployRequest, HostMove } from '../../proxy/management.js';
import { inTransaction } from '../../store/postgres/transaction.js';

// The leader's proxy routes as rows of luma_routes, one per service, each the DeployRequest
// the leader gave its own proxy. Every write is one transaction that passes the leader's
// fence first (a paused old leader cannot overwrite its successor's routes) and ends with
// a NOTIFY on ROUTES_CHANNEL, which the other controllers follow.

export const ROUTES_CHANNEL = 'luma_routes';
/** Where a standby asks the leader to wake a service its own proxy holds requests for. */
export const WAKE_CHANNEL = 'luma_wake';

export interface RouteRow {
  service: string;
  route: DeployRequest;
}

async function fencedWrite(
  pool: pg.Pool,
  fence: WriteFence,
  write: (client: pg.PoolClient) => Promise<void>,
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await fence(client);
    await write(client);
    await client.query('SELECT pg_notify($1, $2)', [ROUTES_CHANNEL, '']);
  });
}

const UPSERT = `INSERT INTO luma_routes (service, route) VALUES ($1, $2)
  ON CONFLICT (service) DO UPDATE SET route = EXCLUDED.route, updated_at = now()`;

/** A deploy, and the host lists of the services it moved hosts away from, in one step. */
export function putRoute(
  pool: pg.Pool,
  fence: WriteFence,
  route: DeployRequest,
  moves: readonly HostMove[] = [],
): Promise<void> {
  return fencedWrite(pool, fence, async (client) => {
    await client.query(UPSERT, [route.service, JSON.stringify(route)]);
    for (const move of moves)
      await client.query(
        `UPDATE luma_routes SET route = jsonb_set(route, '{hosts}', $2::jsonb), updated_at = now() WHERE service = $1`,
        [move.service, JSON.stringify(move.hosts)],
      );
  });
}

export function deleteRoute(pool: pg.Pool, fence: WriteFence, service: string): Promise<void> {
  return fencedWrite(pool, fence, async (client) => {
    await client.query('DELETE FROM luma_routes WHERE service = $1', [service]);
  });
}

export async function listRoutes(pool: pg.Pool): Promise<RouteRow[]> {
  const { rows } = await pool.query<{ service: string; route: DeployRequest }>(
    'SELECT service, route FROM luma_routes ORDER BY service',
  );
  return rows;
}
