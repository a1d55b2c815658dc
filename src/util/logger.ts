import { destination, pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

// Logs go to stderr, so stdout stays free for command output. JSON lines (pino) for
// machines and log collectors; for a person at a terminal (`make run`), pino-pretty's one
// line per record with a time, the level and the component. Which one: LUMA_LOG_FORMAT
// (which `--log-format` sets) when given, else text when stderr is a terminal, else JSON.
export type { Logger };

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The flag first, then its environment twin, then what stderr is. */
export function chooseLogFormat(options: { flag?: LogFormat; env?: string; isTTY: boolean }): LogFormat {
  if (options.flag !== undefined) return options.flag;
  const fromEnv = LOG_FORMATS.find((format) => format === options.env);
  if (fromEnv !== undefined) return fromEnv;
  return options.isTTY ? 'text' : 'json';
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  format?: LogFormat;
  /** Where records go (tests); stderr by default. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format =
    options.format ?? chooseLogFormat({ env: process.env.LUMA_LOG_FORMAT, isTTY: process.stderr.isTTY === true });
  return pino(
    {
      level: options.level ?? process.env.LUMA_LOG_LEVEL ?? 'info',
      base: options.name ? { component: options.name } : {},
    },
    format === 'text' ? textStream(options.stream) : (options.stream ?? destination({ dest: 2, sync: false })),
  );
}

/** `[12:00:01.234] INFO: controller: reconciled {"key":"Project/hello"}`, coloured on a terminal. */
function textStream(stream: NodeJS.WritableStream | undefined): DestinationStream {
  return pretty({
    destination: stream ?? 2,
    colorize: stream === undefined && process.stderr.isTTY === true && !process.env.NO_COLOR,
    translateTime: 'HH:MM:ss.l',
    ignore: 'pid,hostname,component',
    messageFormat: '{if component}{component}: {end}{msg}',
    singleLine: true,
  });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
