import pg from 'pg';
import type { ProxyManagement } from '../../proxy/management.js';
import type { WriteFence } from '../../store/postgres/postgres-store.js';
import type { Logger } from '../../util/logger.js';
import { ActivityExchange } from './activity-exchange.js';
import { PublishingProxy } from './publishing-proxy.js';
import { RouteFollower } from './route-follower.js';
import { WakeRelay } from './wake-relay.js';

// Every controller sharing a PostgreSQL store keeps its proxy fed, so that traffic reaches
// the apps through any node's proxy (issue 22): the leader publishes the routes it gives its
// own proxy, the others follow them, and a standby's held request wakes the service through
// the leader; and every proxy's activity reaches the leader, which decides idleness, scale
// and rollouts from all of them. On a pool of its own (small: one route write at a time
// from the leader, one read per change on the others, one activity report and read per
// second from each), like the election's.

export interface SharedRoutesOptions {
  url: string;
  /** This process's own proxy (in-process, or a `luma proxy run` through its socket). */
  proxy: ProxyManagement;
  /** This controller's identity (its election id): the key of the activity rows it reports. */
  id: string;
  leading: () => boolean;
  fence: () => WriteFence;
  /** The controller's wake for a request held by this process's own proxy (on the leader). */
  wake: (service: string, requestId?: string) => void;
  /** The controller's wake for a request held by another controller's proxy (on the leader). */
  wakeRelayed: (service: string) => void;
  logger: Logger;
}

export interface SharedRoutes {
  /** What the controller deploys through: its own proxy, and the table the others follow. */
  proxy: ProxyManagement;
  /** A request held by this process's proxy: wake the service here when leading, else through the leader. */
  wake(service: string, requestId?: string): void;
  /** Resolves once this process's proxy matches the table (a standby's). */
  settled(): Promise<void>;
  /** Stops once; a second call waits for the first. */
  stop(): Promise<void>;
}

export async function startSharedRoutes(options: SharedRoutesOptions): Promise<SharedRoutes> {
  const pool = new pg.Pool({ connectionString: options.url, max: 3, application_name: 'luma-routes' });
  // A broken idle connection shows as the next query's failure; not a crash.
  pool.on('error', () => undefined);
  const logger = options.logger.child({ component: 'shared-routes' });
  const common = { pool, connectionString: options.url, leading: options.leading, logger };
  const follower = new RouteFollower({ ...common, proxy: options.proxy });
  const relay = new WakeRelay({ ...common, wake: options.wakeRelayed });
  const exchange = new ActivityExchange({ pool, controller: options.id, proxy: options.proxy, logger });
  try {
    await follower.start();
    await relay.start();
  } catch (error) {
    await Promise.all([follower.stop(), relay.stop()]);
    await pool.end();
    throw error;
  }
  exchange.start();
  let stopping: Promise<void> | undefined;
  return {
    proxy: new PublishingProxy(options.proxy, pool, options.fence, exchange),
    wake: (service, requestId) => (options.leading() ? options.wake(service, requestId) : relay.ask(service)),
    settled: () => follower.settled(),
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all([follower.stop(), relay.stop(), exchange.stop()]);
        await pool.end();
      })()),
  };
}
