import type { Command } from 'commander';
import { KIND_PLURALS, kindFromUserInput, KINDS, type Kind } from '../model/types.js';
import { closestMatch } from '../model/wording.js';
import { readStoredApiToken } from '../api/api-token.js';
import { ApiClient, CliError, type ApiCredentials } from './api-client.js';
import { EXIT } from './exit-codes.js';

// Small pieces every command shares.

export function parseKind(input: string): Kind {
  const kind = kindFromUserInput(input);
  if (kind) return kind;
  // A typo gets the spelling it was probably meant as, as a manifest's unknown kind does.
  // Plurals first: `projecs` is as near `project` as `projects`, and `get` lists.
  const spellings = [...KINDS.map((known) => KIND_PLURALS[known]), ...KINDS.map((known) => known.toLowerCase())];
  const suggestion = closestMatch(input, spellings);
  const hint = suggestion !== undefined ? `; did you mean "${suggestion}"?` : '';
  throw new CliError(
    `unknown kind "${input}"${hint} (known: ${KINDS.map((k) => k.toLowerCase()).join(', ')})`,
    EXIT.usage,
  );
}

/** Accepts `project hello` and `project/hello`. */
export function kindAndName(first: string, second: string | undefined): { kind: Kind; name: string | undefined } {
  const slash = first.indexOf('/');
  if (slash > 0) return { kind: parseKind(first.slice(0, slash)), name: first.slice(slash + 1) };
  return { kind: parseKind(first), name: second };
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The program-wide flags (`luma --server … --token … --state-dir …`), also accepted after a command. */
export interface GlobalFlags {
  server: string;
  token?: string;
  stateDir: string;
}

export function globalFlags(command: Command): GlobalFlags {
  return command.optsWithGlobals<GlobalFlags>();
}

/** --token / LUMA_TOKEN first; else the token Luma keeps in its state directory on this machine. */
export function credentialsFor(flags: GlobalFlags): ApiCredentials {
  if (flags.token !== undefined) {
    if (flags.token.trim() === '') throw new CliError('--token / LUMA_TOKEN is empty');
    return { token: flags.token.trim() };
  }
  return readStoredApiToken(flags.stateDir);
}

export function apiClient(command: Command): ApiClient {
  const flags = globalFlags(command);
  return new ApiClient(flags.server, credentialsFor(flags));
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Waits for SIGTERM or SIGINT, then stops gracefully and exits. */
export function stopOnSignal(what: string, stop: () => Promise<void>): void {
  const shutdown = (signal: string): void => {
    process.stderr.write(`luma: ${signal} received, stopping ${what}\n`);
    void stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
