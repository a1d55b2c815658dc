import type { Command } from 'commander';
import { formatLogLine } from '../../logs/log-format.js';
import { resolveSince, SINCE_EXPECTED } from '../../logs/since.js';
import { CliError } from '../api-client.js';
import { apiClient, kindAndName } from '../common.js';

// `luma logs KIND/NAME`: an image's build output, or a project's or lease's container log.
// Lines the app wrote on stderr go to stderr, as with `docker logs`; what Luma itself has
// to say (waiting for an instance, why a followed log ended) goes to stderr as `luma: ...`.

interface LogsOptions {
  follow?: boolean;
  tail?: number;
  since?: string;
  timestamps: boolean;
}

/** Reasons a followed log ends that are a normal end, not a failure (exit 0). */
const NORMAL_ENDS = new Set(['complete', 'container-gone', 'object-deleted']);

function tailLines(value: string): number {
  if (!/^\d+$/.test(value)) throw new CliError(`--tail: expected a whole number of lines (0 or more), got "${value}"`);
  return Number(value);
}

export function registerLogsCommand(program: Command): void {
  program
    .command('logs')
    .description("Show a project's or lease's container log, or an image's build output (follow it live with -f)")
    .argument('<object>', 'project/NAME, lease/NAME or image/NAME')
    .option('-f, --follow', 'keep streaming: new lines, and instances that start, until the log ends')
    .option('--tail <lines>', 'per instance, only the last N lines written so far', tailLines)
    .option('--since <when>', 'only lines from this RFC 3339 time on, or from this long ago (10m, 1h30m)')
    // On by default: the issue asks for a time on every line, and lines of several instances
    // interleave; --no-timestamps gives the app's own lines untouched.
    .option('--timestamps', 'start each line with its RFC 3339 time', true)
    .option('--no-timestamps', 'print lines without their time')
    .addHelpText(
      'after',
      '\nExamples:\n  luma logs project/hello -f           # every instance, each line prefixed with its name\n  luma logs lease/sandbox-1 --tail 50\n  luma logs project/hello --since 10m --no-timestamps\n  luma logs image/hello -f             # build output',
    )
    .action(async (object: string, options: LogsOptions, command: Command) => {
      const { kind, name } = kindAndName(object, undefined);
      if (!name) throw new CliError('logs needs KIND/NAME, such as project/hello');
      // `luma logs ... | head` closes the pipe early: that is the reader being done, not an error.
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EPIPE') process.exit(0);
        throw error;
      });
      if (kind === 'Secret')
        throw new CliError('a secret has no logs; logs are for project/NAME, lease/NAME or image/NAME');
      const api = apiClient(command);
      if (kind === 'Image') {
        for (const flag of ['tail', 'since', 'timestamps'] as const) {
          if (command.getOptionValueSource(flag) === 'cli')
            throw new CliError(
              `--${flag === 'timestamps' && !options.timestamps ? 'no-timestamps' : flag} applies to project and lease logs, not to an image's build output`,
            );
        }
        await api.imageLog(name, options.follow ?? false, (text) => process.stdout.write(text));
        return;
      }
      if (kind === 'Revision')
        throw new CliError(`a revision has no log of its own; read its project's: luma logs project/NAME`);
      let since: string | undefined;
      if (options.since !== undefined) {
        since = resolveSince(options.since, Date.now());
        if (since === undefined) throw new CliError(`--since: expected ${SINCE_EXPECTED}, got "${options.since}"`);
      }
      const format = { prefix: kind === 'Project', timestamps: options.timestamps };
      let printed = 0;
      const end = await api.objectLog(
        kind,
        name,
        {
          follow: options.follow ?? false,
          tail: options.tail,
          since,
        },
        {
          onLine: (record) => {
            printed += 1;
            (record.stream === 'stderr' ? process.stderr : process.stdout).write(`${formatLogLine(record, format)}\n`);
          },
          onNotice: (message) => process.stderr.write(`luma: ${message}\n`),
        },
      );
      if (!NORMAL_ENDS.has(end.reason)) throw new CliError(end.message);
      // An empty answer says why (no containers, nothing written), as kubectl does, on stderr.
      if (end.reason !== 'complete' || printed === 0) process.stderr.write(`luma: ${end.message}\n`);
    });
}
