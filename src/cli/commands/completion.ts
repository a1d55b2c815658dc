import type { Command } from 'commander';
import { CliError } from '../api-client.js';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from '../completion.js';
import { EXIT } from '../exit-codes.js';

// `luma completion bash|zsh`: prints a script that completes commands, flags, kinds and
// object names.

export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash or zsh)')
    .argument('<shell>', COMPLETION_SHELLS.join(' or '))
    .addHelpText(
      'after',
      `
Examples:
  source <(luma completion bash)                       # this shell only
  luma completion bash > /etc/bash_completion.d/luma   # every new bash
  echo 'source <(luma completion zsh)' >> ~/.zshrc`,
    )
    .action((shell: string) => {
      if (!(COMPLETION_SHELLS as readonly string[]).includes(shell))
        throw new CliError(
          `completion: "${shell}" is not a supported shell (${COMPLETION_SHELLS.join(', ')})`,
          EXIT.usage,
        );
      process.stdout.write(completionScript(shell as CompletionShell, program));
    });
}
