import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { apiClient } from '../common.js';

// `luma console`: a one-time sign-in link to the web console. The API token stays on this
// machine: the link carries a code that works once, for two minutes, in the URL's
// fragment (never sent to a server); the console trades it for a session cookie.

interface SignInCode {
  code: string;
  expiresAt: string;
  path: string;
}

export function registerConsoleCommand(program: Command): void {
  program
    .command('console')
    .description('Print a one-time sign-in link to the web console (and open it where a browser is available)')
    .option('--no-open', 'only print the link')
    .addHelpText(
      'after',
      '\nExamples:\n  luma console             # print the link and open it here\n  luma console --no-open   # print it only, to open on another machine',
    )
    .action(async (options: { open: boolean }, command: Command) => {
      const client = apiClient(command);
      const issued = await client.request<SignInCode>('POST', '/console/sign-in-codes');
      const link = new URL(issued.path, client.server).toString();
      process.stdout.write(`${link}\n`);
      process.stderr.write(`luma: the link signs in once, until ${issued.expiresAt}\n`);
      if (options.open) openInBrowser(link);
    });
}

/** Best effort: where there is no desktop (a server, SSH) the printed link is the way. */
function openInBrowser(link: string): void {
  const opener =
    process.platform === 'darwin'
      ? 'open'
      : process.env.DISPLAY || process.env.WAYLAND_DISPLAY
        ? 'xdg-open'
        : undefined;
  if (opener === undefined) return;
  const child = spawn(opener, [link], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
}
