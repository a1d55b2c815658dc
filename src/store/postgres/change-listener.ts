import pg from 'pg';

// One connection that LISTENs for the store's change notifications. A notification only
// says "something changed up to version N"; what changed is read from the change log,
// so a notification lost while the connection was down costs nothing: on every
// (re)connect the store is told to catch up. The connection comes back by itself, with a
// growing pause between attempts, and tells the store when it is lost and found.

export const CHANGES_CHANNEL = 'luma_changes';
const FIRST_RETRY_MS = 200;
const LAST_RETRY_MS = 2_000;

export interface ChangeListenerOptions {
  connectionString: string;
  /** The NOTIFY channel; the store's by default. */
  channel?: string;
  /** A notification arrived (with its payload), or the connection was (re)made (none): read the change log. */
  onChange: (payload?: string) => void;
  /** The connection was lost (with why) or made again (undefined). */
  onConnection: (error: Error | undefined) => void;
}

export class ChangeListener {
  private client: pg.Client | undefined;
  private retryMs = FIRST_RETRY_MS;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: ChangeListenerOptions) {}

  /** Resolves once listening; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString, application_name: 'luma-listen' });
    client.on('notification', (message) => this.options.onChange(message.payload));
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the connection to PostgreSQL ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel ?? CHANGES_CHANNEL}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) return void (await client.end().catch(() => undefined));
    this.client = client;
    this.retryMs = FIRST_RETRY_MS;
    this.options.onConnection(undefined);
    this.options.onChange();
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client || this.stopped) return;
    this.client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.options.onConnection(error);
    this.retry();
  }

  private retry(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.connect().catch((error: unknown) => {
        this.options.onConnection(error instanceof Error ? error : new Error(String(error)));
        this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
        this.retry();
      });
    }, this.retryMs);
    this.timer.unref();
  }
}
