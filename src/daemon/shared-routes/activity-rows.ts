import type pg from 'pg';
import type { ActivitySnapshot } from '../../proxy/management.js';
import type { OutcomeCounts } from '../../proxy/revision-outcomes.js';
import { inTransaction } from '../../store/postgres/transaction.js';

// Each controller's proxy activity as rows: luma_proxy_reporters says when a controller last
// reported (its heartbeat), luma_proxy_activity holds its proxy's activity per service and
// luma_proxy_outcomes its growing outcome counts per revision. A controller writes only
// rows keyed by its own identity; activity rows count only while their controller's
// heartbeat is fresh, outcome rows always (counts are history, and a sum that dropped when
// a controller died would make a rollout misjudge its step).

/** What one controller changes in one report: rows to write, and keys whose rows go. */
export interface ActivityReport {
  controller: string;
  activity: Map<string, ActivitySnapshot>;
  goneServices: string[];
  outcomes: Map<string, OutcomeCounts>;
  goneRevisions: string[];
}

/** Another controller's fresh activity row. */
export interface ActivityRow extends ActivitySnapshot {
  service: string;
}

/** One report: the heartbeat and the changed rows commit together, or none of them does. */
export async function writeReport(pool: pg.Pool, report: ActivityReport): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO luma_proxy_reporters (controller) VALUES ($1)
         ON CONFLICT (controller) DO UPDATE SET seen_at = now()`,
      [report.controller],
    );
    await writeActivity(client, report);
    await writeOutcomes(client, report);
  });
}

async function writeActivity(
  client: pg.PoolClient,
  { controller, activity, goneServices }: ActivityReport,
): Promise<void> {
  for (const [service, snapshot] of activity)
    await client.query(
      `INSERT INTO luma_proxy_activity (controller, service, last_activity_at, in_flight, waiting)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (controller, service) DO UPDATE SET
         last_activity_at = EXCLUDED.last_activity_at, in_flight = EXCLUDED.in_flight, waiting = EXCLUDED.waiting`,
      [controller, service, snapshot.lastActivityAt ?? null, snapshot.inFlight, snapshot.waiting],
    );
  if (goneServices.length > 0)
    await client.query('DELETE FROM luma_proxy_activity WHERE controller = $1 AND service = ANY($2)', [
      controller,
      goneServices,
    ]);
}

async function writeOutcomes(
  client: pg.PoolClient,
  { controller, outcomes, goneRevisions }: ActivityReport,
): Promise<void> {
  for (const [revision, counts] of outcomes)
    await client.query(
      `INSERT INTO luma_proxy_outcomes (controller, revision, counts) VALUES ($1, $2, $3)
         ON CONFLICT (controller, revision) DO UPDATE SET counts = EXCLUDED.counts`,
      [controller, revision, JSON.stringify(counts)],
    );
  if (goneRevisions.length > 0)
    await client.query('DELETE FROM luma_proxy_outcomes WHERE controller = $1 AND revision = ANY($2)', [
      controller,
      goneRevisions,
    ]);
}

/** The activity rows of every other controller that reported within `freshMs` (by the database's clock). */
export async function othersActivity(pool: pg.Pool, controller: string, freshMs: number): Promise<ActivityRow[]> {
  const { rows } = await pool.query<{
    service: string;
    last_activity_at: string | null;
    in_flight: number;
    waiting: number;
  }>(
    `SELECT a.service, a.last_activity_at, a.in_flight, a.waiting
       FROM luma_proxy_activity a JOIN luma_proxy_reporters r USING (controller)
      WHERE a.controller <> $1 AND r.seen_at > now() - make_interval(secs => $2)`,
    [controller, freshMs / 1000],
  );
  return rows.map((row) => ({
    service: row.service,
    ...(row.last_activity_at === null ? {} : { lastActivityAt: Number(row.last_activity_at) }),
    inFlight: row.in_flight,
    waiting: row.waiting,
  }));
}

/** Every other controller's outcome counts, one set per controller. */
export async function othersOutcomes(pool: pg.Pool, controller: string): Promise<Array<Record<string, OutcomeCounts>>> {
  const { rows } = await pool.query<{ controller: string; revision: string; counts: OutcomeCounts }>(
    'SELECT controller, revision, counts FROM luma_proxy_outcomes WHERE controller <> $1',
    [controller],
  );
  const byController = new Map<string, Record<string, OutcomeCounts>>();
  for (const row of rows) {
    const set = byController.get(row.controller) ?? {};
    set[row.revision] = row.counts;
    byController.set(row.controller, set);
  }
  return [...byController.values()];
}

/** A controller stopping: its activity stops counting at once (its outcome counts stay, as history). */
export async function withdraw(pool: pg.Pool, controller: string): Promise<void> {
  await pool.query('DELETE FROM luma_proxy_activity WHERE controller = $1', [controller]);
  await pool.query('DELETE FROM luma_proxy_reporters WHERE controller = $1', [controller]);
}
