import { describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/api-client.js';
import { parseDryRun } from '../../../src/cli/dry-run.js';
import { EXIT } from '../../../src/cli/exit-codes.js';

describe('apply --dry-run', () => {
  it('means the server dry run when bare, as it did before strategies', () => {
    expect(parseDryRun(true)).toBe('server');
  });

  it.each([
    [undefined, 'none'],
    ['none', 'none'],
    ['client', 'client'],
    ['server', 'server'],
  ] as const)('%s is %s', (value, strategy) => {
    expect(parseDryRun(value)).toBe(strategy);
  });

  it('refuses an unknown strategy with exit 2, naming the known ones', () => {
    const error = (() => {
      try {
        parseDryRun('clinet');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(EXIT.usage);
    expect((error as CliError).message).toBe('--dry-run: "clinet" is not a strategy (known: none, client, server)');
  });
});
