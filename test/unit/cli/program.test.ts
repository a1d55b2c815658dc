import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/api-client.js';
import { parseKind } from '../../../src/cli/common.js';
import { completionScript } from '../../../src/cli/completion.js';
import { DIFF_EXIT, EXIT } from '../../../src/cli/exit-codes.js';
import { buildProgram, exitCodeFor } from '../../../src/cli/main.js';
import { ManifestError } from '../../../src/model/parse.js';

// The program as a whole: every command explains itself with examples, usage errors exit
// 2, and the completion scripts know every command and flag.

function quietProgram(): Command {
  return buildProgram({ writeOut: () => undefined, writeErr: () => undefined });
}

function allCommands(command: Command): Command[] {
  return command.commands.filter((sub) => sub.name() !== 'help').flatMap((sub) => [sub, ...allCommands(sub)]);
}

function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (chunk) => (text += chunk), writeErr: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

async function exitOf(args: string[]): Promise<number> {
  try {
    await quietProgram().parseAsync(['node', 'luma', ...args]);
    return EXIT.ok;
  } catch (error) {
    return exitCodeFor(error);
  }
}

describe('help', () => {
  it('shows examples for every command (leaf commands) and the exit codes at the top', () => {
    const program = quietProgram();
    const leaves = allCommands(program).filter((command) => command.commands.length === 0);
    expect(leaves.map((command) => command.name())).toEqual(
      expect.arrayContaining([
        'apply',
        'diff',
        'get',
        'describe',
        'delete',
        'wait',
        'events',
        'logs',
        'completion',
        'up',
      ]),
    );
    for (const command of leaves)
      expect(helpOf(command), `luma ${command.name()} --help`).toMatch(/Examples?:\n {2}(luma|source|luma-proxy)/);
    expect(helpOf(program)).toMatch(/Exit codes: 0 success; 1 failure/);
  });
});

describe('exit codes', () => {
  it.each([
    [['get'], 'a missing argument'],
    [['get', 'projects', '--bogus'], 'an unknown flag'],
    [['get', 'projects', '-o', 'tsv'], 'a bad choice'],
    [['frobnicate'], 'an unknown command'],
    [['get', 'widgets'], 'an unknown kind'],
    [['wait', '--for=ready', 'project/x'], 'a bad --for'],
    [['wait', '--for=condition=Ready', 'project/x', '--timeout', 'soon'], 'a bad --timeout'],
    [['wait', '--for=condition=Ready', 'project'], 'a kind without a name'],
    [['completion', 'fish'], 'an unsupported shell'],
    [['events', '--types', 'Bad'], 'an unknown event type'],
    [['apply', '-f', 'app.yaml', '--dry-run=clinet'], 'an unknown dry-run strategy'],
    [['get', 'projects', '-o', 'jsonpath={.items['], 'an unclosed jsonpath template'],
    [['get', 'projects', '-o', 'custom-columns=NAME'], 'a custom column without a path'],
    [['explain', 'project.spec.scalling'], 'an unknown field'],
    [['explain', 'widget'], 'an unknown kind to explain'],
    [['delete', 'projects', '-l', 'app in'], 'a bad selector'],
    [['delete', 'projects', 'shop', '-l', 'app=x'], 'a name with a selector'],
  ])('%j (%s) is a usage error: 2', async (args) => {
    expect(await exitOf(args)).toBe(EXIT.usage);
  });

  it('--help is a success', async () => {
    expect(await exitOf(['get', '--help'])).toBe(EXIT.ok);
  });

  it('--version is a success', async () => {
    expect(await exitOf(['--version'])).toBe(EXIT.ok);
  });

  it('maps failures: refused or unreachable 1, timeouts 3, anything else 1', () => {
    expect(exitCodeFor(new CliError('refused'))).toBe(1);
    expect(exitCodeFor(new CliError('late', EXIT.timeout))).toBe(3);
    expect(exitCodeFor(new ManifestError([{ file: 'a.yaml', line: 1, column: 1, path: 'spec', message: 'bad' }]))).toBe(
      1,
    );
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });

  it('keeps diff failures apart from "there are differences"', () => {
    expect(DIFF_EXIT.different).toBe(1);
    expect(DIFF_EXIT.error).toBeGreaterThan(DIFF_EXIT.different);
  });
});

describe('kinds', () => {
  it('suggests the spelling a typo was probably meant as, plurals first', () => {
    expect(() => parseKind('projecs')).toThrow(
      'unknown kind "projecs"; did you mean "projects"? (known: project, image, lease, secret, revision)',
    );
    expect(() => parseKind('leese')).toThrow('did you mean "lease"?');
    expect(() => parseKind('widgets')).toThrow(/^unknown kind "widgets" \(known: /);
  });
});

describe('completion', () => {
  function complete(shellLine: string): string[] {
    const script = completionScript('bash', quietProgram());
    const words = shellLine.split(' ');
    // `luma` is not on the PATH here: names come back empty, as when Luma is down.
    const run = `${script}\nCOMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _luma; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = spawnSync('bash', ['--norc', '--noprofile', '-c', run], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin' },
    });
    expect(result.stderr).toBe('');
    return result.stdout.split('\n').filter((line) => line !== '');
  }

  it('is valid bash and zsh-loadable bash', () => {
    for (const shell of ['bash', 'zsh'] as const) {
      const result = spawnSync('bash', ['-n'], {
        input: completionScript(shell, quietProgram()).replace(/^autoload.*$/gm, ''),
        encoding: 'utf8',
      });
      expect(result.status, result.stderr).toBe(0);
    }
    expect(completionScript('zsh', quietProgram())).toContain('bashcompinit');
  });

  it('completes commands, kinds, flags of each command, output formats and --for', () => {
    expect(complete('luma ge')).toEqual(['get']);
    expect(complete('luma d').sort()).toEqual(['delete', 'describe', 'diff']);
    expect(complete('luma get p')).toEqual(['project']);
    expect(complete('luma get u')).toEqual(['usage']);
    expect(complete('luma get projects --s')).toEqual(['--selector']);
    expect(complete('luma apply --d')).toEqual(['--dry-run']);
    expect(complete('luma get projects -o ')).toEqual(['wide', 'yaml', 'json', 'name', 'jsonpath=', 'custom-columns=']);
    expect(complete('luma wait --for ')).toEqual(['condition=Ready', 'condition=Stalled', 'delete']);
    expect(complete('luma proxy d')).toEqual(['deploy']);
    expect(complete('luma proxy deploy --ho')).toEqual(['--host']);
    expect(complete('luma completion ')).toEqual(['bash', 'zsh']);
  });
});
