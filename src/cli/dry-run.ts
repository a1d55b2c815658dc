import { CliError } from './api-client.js';
import { EXIT } from './exit-codes.js';

// `apply --dry-run[=none|client|server]`, kubectl's three strategies. A bare `--dry-run`
// keeps the meaning it had before the strategies existed: the server's dry run (the API
// checks everything, operator bounds and conflicts included, and reports created /
// configured / unchanged, storing nothing). `client` never contacts the API: it parses and
// validates against the JSON Schemas here, which is what can be known offline.

export type DryRun = 'none' | 'client' | 'server';

const STRATEGIES: readonly DryRun[] = ['none', 'client', 'server'];

/** commander gives `true` for a bare flag, the text after `=` otherwise, undefined without it. */
export function parseDryRun(value: string | boolean | undefined): DryRun {
  if (value === undefined || value === false) return 'none';
  if (value === true) return 'server';
  const strategy = STRATEGIES.find((known) => known === value);
  if (strategy === undefined)
    throw new CliError(`--dry-run: "${value}" is not a strategy (known: none, client, server)`, EXIT.usage);
  return strategy;
}
