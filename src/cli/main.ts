#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option, type OutputConfiguration } from 'commander';
import { ManifestError } from '../model/manifest-error.js';
import { CliError, DEFAULT_SERVER } from './api-client.js';
import { registerApplyCommands } from './commands/apply.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerConsoleCommand } from './commands/console.js';
import { registerDaemonCommands } from './commands/daemons.js';
import { registerEventsCommand } from './commands/events.js';
import { registerWaitCommand } from './commands/wait.js';
import { EXIT } from './exit-codes.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerObjectCommands } from './commands/objects.js';
import { registerProxyCommands } from './commands/proxy.js';
import { registerLeaseCommands } from './commands/leases.js';
import type { LogFormat } from '../util/logger.js';
import { registerVersionCommand } from './commands/version.js';
import { registerExplainCommand } from './commands/explain.js';
import { readBuildInfo, versionLine } from './build-info.js';
import { errorMessage } from '../util/error-message.js';
import { registerWakeCommand } from './commands/wake.js';
import { registerRolloutCommand } from './commands/rollout.js';
import { registerMetricsCommand } from './commands/metrics.js';
import { registerCreateCommand } from './commands/create-secret.js';

// `luma`: kubectl-like and thin. Object commands talk to the API, proxy commands to the
// proxy's management socket; `up`, `controller` and `proxy run` are the daemons.

/** `output` redirects what commander itself prints (tests keep it quiet); subcommands inherit it. */
export function buildProgram(output?: OutputConfiguration): Command {
  const program = new Command();
  if (output) program.configureOutput(output);
  program
    .name('luma')
    .description(
      'Luma runs your HTTP apps as Docker containers: declare them in YAML, Luma builds, routes, starts and idles them.',
    )
    .addOption(new Option('--server <url>', 'Luma API to talk to').env('LUMA_SERVER').default(DEFAULT_SERVER))
    .addOption(
      new Option('--token <token>', "the API's token (default: the one in the state directory)").env('LUMA_TOKEN'),
    )
    // One program-wide flag: the daemons keep their state there and the CLI finds the token there.
    .addOption(
      new Option('--state-dir <dir>', 'where Luma keeps objects, state and its API token')
        .env('LUMA_STATE_DIR')
        .default('./.luma'),
    )
    .addOption(
      new Option('--log-format <format>', 'how the daemons log on stderr: text (the default on a terminal) or json')
        .env('LUMA_LOG_FORMAT')
        .choices(['json', 'text'] satisfies LogFormat[]),
    )
    .version(versionLine(readBuildInfo()), '--version', 'print the version and the git commit it was built from')
    // Handed to the logger through its environment twin, which the daemons' loggers read
    // (and child processes inherit); importing the logger here would load pino-pretty
    // into every command.
    .hook('preAction', (_program, action) => {
      const format = action.optsWithGlobals<{ logFormat?: LogFormat }>().logFormat;
      if (format !== undefined) process.env.LUMA_LOG_FORMAT = format;
    })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError()
    // Usage errors are thrown rather than exiting, so that they exit 2 (see exit-codes.ts);
    // subcommands inherit this from the program.
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  luma up                                   # run Luma here, on ./manifests
  luma apply -f app.yaml --wait             # declare an app and wait until it is Ready
  luma get projects -o wide
  luma describe project hello
  luma events -w

Exit codes: 0 success; 1 failure (refused, not found, unreachable, stalled); 2 bad command
line; 3 timed out (wait, apply --wait). luma diff: 0 same, 1 different, 2+ error.
Colours only on a terminal; NO_COLOR=1 turns them off.`,
    );
  registerDaemonCommands(program);
  registerApplyCommands(program);
  registerObjectCommands(program);
  registerCreateCommand(program);
  registerWaitCommand(program);
  registerEventsCommand(program);
  registerLeaseCommands(program);
  registerWakeCommand(program);
  registerRolloutCommand(program);
  registerMetricsCommand(program);
  registerLogsCommand(program);
  registerProxyCommands(program);
  registerConsoleCommand(program);
  registerCompletionCommand(program);
  registerExplainCommand(program);
  registerVersionCommand(program);
  return program;
}

/** The exit code for an error that ended a command (see exit-codes.ts). */
export function exitCodeFor(error: unknown): number {
  // Commander has already printed what was wrong; help asked for is a success.
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof CliError) return error.exitCode;
  return EXIT.failure;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(exitCodeFor(error));
    if (error instanceof CliError || error instanceof ManifestError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(exitCodeFor(error));
    }
    const code = (error as { code?: string }).code;
    const message = errorMessage(error);
    // Startup failures (Docker down, a port taken, a bad flag) are one line, not a stack trace.
    process.stderr.write(
      `error: ${message}${code === 'EADDRINUSE' ? ' (the address is in use; pick another with --listen / --api-listen)' : ''}\n`,
    );
    if (process.env.LUMA_DEBUG) console.error(error);
    process.exit(exitCodeFor(error));
  }
}

function isEntryPoint(): boolean {
  const invoked = process.argv[1];
  if (!invoked) return false;
  try {
    // Through `npm link` the invoked path is a symlink to this file.
    return realpathSync(invoked) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

// Run only as the entry point, so that luma-proxy can reuse the program.
if (isEntryPoint()) void runCli(process.argv);
