#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { ManifestError } from '../model/parse.js';
import { CliError, DEFAULT_SERVER } from './api-client.js';
import { registerDaemonCommands } from './commands/daemons.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerObjectCommands } from './commands/objects.js';
import { registerProxyCommands } from './commands/proxy.js';
import { registerLeaseCommands } from './commands/leases.js';

// `luma`: kubectl-like and thin. Object commands talk to the API, proxy commands to the
// proxy's management socket; `up`, `controller` and `proxy run` are the daemons.

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('luma')
    .description('Luma runs your HTTP apps as Docker containers: declare them in YAML, Luma builds, routes, starts and idles them.')
    .addOption(new Option('--server <url>', 'Luma API to talk to').env('LUMA_SERVER').default(DEFAULT_SERVER))
    .addOption(new Option('--token <token>', "the API's token (default: the one in the state directory)").env('LUMA_TOKEN'))
    // One program-wide flag: the daemons keep their state there and the CLI finds the token there.
    .addOption(new Option('--state-dir <dir>', 'where Luma keeps objects, state and its API token').env('LUMA_STATE_DIR').default('./.luma'))
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError();
  registerDaemonCommands(program);
  registerObjectCommands(program);
  registerLeaseCommands(program);
  registerLogsCommand(program);
  registerProxyCommands(program);
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CliError || error instanceof ManifestError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(error instanceof CliError ? error.exitCode : 1);
    }
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    // Startup failures (Docker down, a port taken, a bad flag) are one line, not a stack trace.
    process.stderr.write(`error: ${message}${code === 'EADDRINUSE' ? ' (the address is in use; pick another with --listen / --api-listen)' : ''}\n`);
    if (process.env.LUMA_DEBUG) console.error(error);
    process.exit(1);
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
