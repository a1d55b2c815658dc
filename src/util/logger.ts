import { destination, pino, type Logger } from 'pino';

// Structured JSON logs (pino) on stderr, so stdout stays free for command output.
export type { Logger };

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LUMA_LOG_LEVEL ?? 'info',
      base: options.name ? { component: options.name } : {},
    },
    destination({ dest: 2, sync: false }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
