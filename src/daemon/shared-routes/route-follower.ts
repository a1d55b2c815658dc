import type pg from 'pg';
import type { ProxyManagement } from '../../proxy/management.js';
import { ChangeListener } from '../../store/postgres/change-listener.js';
import type { Logger } from '../../util/logger.js';
import { listRoutes, ROUTES_CHANNEL, type RouteRow } from './route-rows.js';

// A controller that does not lead keeps its own proxy serving what the leader's serves: it
// reads luma_routes whenever the leader announces a change (and on every reconnect, so a
// notification lost meanwhile costs nothing) and makes its proxy match, route by route.
// While this process leads, its controller feeds the proxy itself and the follower does
// nothing. A deploy the proxy refuses (a host still held by a service whose own change
// comes later in the pass) is tried again after the pass, then at the next retry.

const RETRY_MS = 1_000;

export interface RouteFollowerOptions {
  pool: pg.Pool;
  connectionString: string;
  proxy: ProxyManagement;
  leading: () => boolean;
  logger: Logger;
}

export class RouteFollower {
  /** What this follower last deployed, by service, as the row's JSON: an unchanged row is not deployed again. */
  private readonly applied = new Map<string, string>();
  private readonly listener: ChangeListener;
  private pass: Promise<void> | undefined;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: RouteFollowerOptions) {
    this.listener = new ChangeListener({
      connectionString: options.connectionString,
      channel: ROUTES_CHANNEL,
      onChange: () => this.poke(),
      onConnection: () => undefined,
    });
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.listener.stop();
    await this.pass;
  }

  /** Resolves once the proxy matches the table as it was read after this call. */
  async settled(): Promise<void> {
    this.poke();
    while (this.pass) await this.pass;
  }

  /** One pass at a time; a change announced during a pass runs one more after it. */
  private poke(): void {
    if (this.stopped) return;
    if (this.pass) return void (this.again = true);
    this.pass = this.follow()
      .catch((error: unknown) => {
        this.options.logger.warn({ err: String(error) }, 'following the leader’s routes failed; retrying');
        this.later();
      })
      .finally(() => {
        this.pass = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private later(): void {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.poke(), RETRY_MS);
    this.retry.unref();
  }

  private async follow(): Promise<void> {
    if (this.options.leading()) return void this.applied.clear();
    const rows = await listRoutes(this.options.pool);
    await this.removeAbsent(new Set(rows.map((row) => row.service)));
    const changed = rows.filter((row) => this.applied.get(row.service) !== JSON.stringify(row.route));
    const failed = await this.deployAll(await this.deployAll(changed));
    if (failed.length > 0) {
      const services = failed.map((row) => row.service);
      this.options.logger.warn({ services }, 'the proxy refused some of the leader’s routes; retrying');
      this.later();
    }
  }

  private async removeAbsent(wanted: Set<string>): Promise<void> {
    for (const info of await this.options.proxy.listServices()) {
      if (wanted.has(info.service) || this.options.leading()) continue;
      await this.options.proxy.remove(info.service);
      this.applied.delete(info.service);
    }
  }

  /** Deploys each row in turn; returns the rows the proxy refused. */
  private async deployAll(rows: RouteRow[]): Promise<RouteRow[]> {
    const failed: RouteRow[] = [];
    for (const row of rows) {
      if (this.options.leading() || this.stopped) return [];
      try {
        await this.options.proxy.deploy(row.route);
        this.applied.set(row.service, JSON.stringify(row.route));
      } catch {
        failed.push(row);
      }
    }
    return failed;
  }
}
