import type pg from 'pg';
import { ChangeListener } from '../../store/postgres/change-listener.js';
import type { Logger } from '../../util/logger.js';
import { WAKE_CHANNEL } from './route-rows.js';

// A request held by a standby's proxy for a service with no target must still wake it, and
// only the leader starts anything: the standby NOTIFYs WAKE_CHANNEL with the service's name,
// and the leader, listening, wakes it. The held request is released when the route with the
// new target reaches the standby's proxy (route-follower.ts). A notification lost while no
// leader listens costs the request its hold: it times out as on one host, and the next one
// asks again.

export interface WakeRelayOptions {
  pool: pg.Pool;
  connectionString: string;
  leading: () => boolean;
  /** The leader's controller waking a service. */
  wake: (service: string) => void;
  logger: Logger;
}

export class WakeRelay {
  private readonly listener: ChangeListener;

  constructor(private readonly options: WakeRelayOptions) {
    this.listener = new ChangeListener({
      connectionString: options.connectionString,
      channel: WAKE_CHANNEL,
      onChange: (service) => {
        if (service && options.leading()) options.wake(service);
      },
      onConnection: () => undefined,
    });
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  stop(): Promise<void> {
    return this.listener.stop();
  }

  /** Asks whichever controller leads to wake `service`. */
  ask(service: string): void {
    this.options.pool
      .query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, service])
      .catch((error: unknown) =>
        this.options.logger.warn({ service, err: String(error) }, 'could not ask the leader to wake a service'),
      );
  }
}
