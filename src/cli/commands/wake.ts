import type { Command } from 'commander';
import { CliError } from '../api-client.js';
import { apiClient, kindAndName } from '../common.js';
import { EXIT } from '../exit-codes.js';

// `luma wake project/NAME`: start a project before its first request (a demo, a warm-up
// before traffic), as the console's Wake button does. One call; the answer is at once.

export function registerWakeCommand(program: Command): void {
  program
    .command('wake')
    .description('Start a project as a first request would; it idles again after its idle timeout')
    .argument('<project>', 'project/NAME')
    .addHelpText(
      'after',
      `
The command returns once the controller has been asked; the project's phase says when it
runs. Its idle timeout counts from the wake, as from a request.

Examples:
  luma wake project/hello
  luma wake project/hello && luma wait --for=condition=Ready project/hello --timeout 30s`,
    )
    .action(async (target: string, _options: unknown, command: Command) => {
      const { kind, name } = kindAndName(target, undefined);
      if (kind !== 'Project' || !name) throw new CliError(`wake needs project/NAME, got "${target}"`, EXIT.usage);
      const project = await apiClient(command).wakeProject(name);
      const phase = project.kind === 'Project' ? project.status?.phase : undefined;
      process.stdout.write(`project/${name} woken (was ${phase ?? 'unknown'})\n`);
    });
}
