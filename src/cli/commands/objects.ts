import type { Command } from 'commander';
import { Option } from 'commander';
import { parseManifests } from '../../model/parse.js';
import type { Kind } from '../../model/types.js';
import { loadManifestArguments } from '../../util/manifest-files.js';
import { CliError } from '../api-client.js';
import { apiClient, collect, kindAndName, readStdin } from '../common.js';
import { uploadContexts } from '../context-upload.js';
import { describe, formatObjects, type OutputFormat } from '../format.js';
import { formatUsage } from '../usage-format.js';

// kubectl-like object commands: apply, get (and get usage), describe, delete.

const OUTPUT_FORMATS: OutputFormat[] = ['wide', 'yaml', 'json'];

async function loadFiles(paths: string[]): Promise<Array<{ path: string; content: string }>> {
  return loadManifestArguments(paths, readStdin).catch((error: Error) => {
    throw new CliError(error.message);
  });
}

export function registerObjectCommands(program: Command): void {
  program
    .command('apply')
    .description('Create or update objects from manifest files')
    .requiredOption('-f, --filename <path>', 'a file, a directory of *.yaml, or - for standard input (repeatable)', collect, [])
    .option('--dry-run', 'validate and report, change nothing')
    .addHelpText('after', '\nExamples:\n  luma apply -f app.yaml\n  luma apply -f manifests/\n  cat app.yaml | luma apply -f -')
    .action(async (options: { filename: string[]; dryRun?: boolean }, command: Command) => {
      const api = apiClient(command);
      const files = await loadFiles(options.filename);
      const contexts = await uploadContexts(api, files);
      const response = await api.applyFiles(files, options.dryRun ?? false, contexts);
      const suffix = response.dryRun ? ' (dry run)' : '';
      for (const result of response.results) process.stdout.write(`${result.kind.toLowerCase()}/${result.name} ${result.result}${suffix}\n`);
    });

  program
    .command('get')
    .description('List objects of a kind, or show one; `get usage` shows what ended leases used and cost')
    .argument('<kind>', 'project, image or lease (or KIND/NAME), or usage')
    .argument('[name]', 'one object')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS))
    .option('--project <name>', "with get usage: only this project's leases")
    .addHelpText('after', '\nExamples:\n  luma get projects\n  luma get project hello -o json\n  luma get usage --project hello')
    .action(async (kindArg: string, nameArg: string | undefined, options: { output?: OutputFormat; project?: string }, command: Command) => {
      const api = apiClient(command);
      if (kindArg.toLowerCase() === 'usage') {
        if (nameArg !== undefined) throw new CliError(`get usage takes no name; for one project's usage write: luma get usage --project ${nameArg}`);
        const summary = await api.usage(options.project);
        if (summary.leases.length === 0 && !options.output) {
          process.stderr.write(options.project !== undefined ? `No usage recorded for project "${options.project}".\n` : 'No usage recorded.\n');
          return;
        }
        process.stdout.write(formatUsage(summary, options.output ?? 'table'));
        return;
      }
      if (options.project !== undefined) throw new CliError('--project only goes with get usage');
      const { kind, name } = kindAndName(kindArg, nameArg);
      const objects = name ? [await api.get(kind, name)] : (await api.list(kind)).items;
      if (objects.length === 0 && !options.output) {
        process.stderr.write(`No ${kind.toLowerCase()} found.\n`);
        return;
      }
      process.stdout.write(formatObjects(kind, objects, options.output ?? 'table', name !== undefined));
    });

  program
    .command('describe')
    .description('Show one object in detail: spec, status and conditions')
    .argument('<kind>', 'project, image or lease (or KIND/NAME)')
    .argument('[name]')
    .addHelpText('after', '\nExample:\n  luma describe project hello')
    .action(async (kindArg: string, nameArg: string | undefined, _options: unknown, command: Command) => {
      const { kind, name } = kindAndName(kindArg, nameArg);
      if (!name) throw new CliError('describe needs a name: luma describe KIND NAME');
      process.stdout.write(describe(await apiClient(command).get(kind, name)));
    });

  program
    .command('delete')
    .description('Delete objects by kind and name, or those a manifest declares')
    .argument('[kind]', 'project, image or lease (or KIND/NAME)')
    .argument('[name]')
    .option('-f, --filename <path>', 'delete what these manifests declare (repeatable)', collect, [])
    .addHelpText('after', '\nExamples:\n  luma delete project hello\n  luma delete -f app.yaml')
    .action(async (kindArg: string | undefined, nameArg: string | undefined, options: { filename: string[] }, command: Command) => {
      const targets: Array<{ kind: Kind; name: string }> = [];
      if (options.filename.length > 0) {
        for (const file of await loadFiles(options.filename)) {
          for (const doc of parseManifests(file.content, file.path)) targets.push({ kind: doc.object.kind, name: doc.object.metadata.name });
        }
      } else {
        if (!kindArg) throw new CliError('delete needs KIND NAME or -f FILE');
        const { kind, name } = kindAndName(kindArg, nameArg);
        if (!name) throw new CliError('delete needs a name: luma delete KIND NAME');
        targets.push({ kind, name });
      }
      const api = apiClient(command);
      let failed = false;
      for (const target of targets) {
        try {
          await api.delete(target.kind, target.name);
          process.stdout.write(`${target.kind.toLowerCase()}/${target.name} deleted\n`);
        } catch (error) {
          failed = true;
          process.stderr.write(`error: ${(error as Error).message}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });
}
