import { Option, type Command } from 'commander';
import { readBuildInfo, versionLine } from '../build-info.js';

// `luma version` (as `kubectl version --client`), beside the program's `--version`:
// the same line, or the fields as JSON for scripts.

export function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description("Print Luma's version and the git commit it was built from")
    .addOption(new Option('-o, --output <format>', 'json for scripts').choices(['json']))
    .addHelpText('after', '\nExamples:\n  luma version\n  luma --version\n  luma version -o json')
    .action((options: { output?: 'json' }) => {
      const info = readBuildInfo();
      process.stdout.write(options.output === 'json' ? JSON.stringify(info, null, 2) + '\n' : versionLine(info) + '\n');
    });
}
