import type { Command } from 'commander';
import { Option } from 'commander';
import { stringify } from 'yaml';
import type { Kind, LumaObject } from '../../model/types.js';
import { CliError, type ApiClient } from '../api-client.js';
import { apiClient, collect, kindAndName } from '../common.js';
import { describeSecretRefs } from '../secret-refs.js';
import { EXIT } from '../exit-codes.js';
import {
  columnWidths,
  describe,
  formatObjects,
  objectHeader,
  objectRef,
  objectRow,
  tableLine,
  type OutputFormat,
} from '../format.js';
import { TemplateError } from '../jsonpath-template.js';
import { OUTPUT_HELP, parseOutputFlag, renderTemplated, type OutputSpec } from '../output-flag.js';
import { stdoutStyle } from '../style.js';
import { formatUsage } from '../usage-format.js';
import { loadFiles } from './apply.js';
import { selectedTargets } from './delete-selected.js';
import { getSync } from './get-sync.js';

// kubectl-like object commands: get (and get usage), describe, delete.

interface GetArguments {
  kind: Kind;
  name: string | undefined;
  output: OutputSpec;
  labelSelector: string | undefined;
  watch: boolean;
}

interface UsageArguments {
  project: string | undefined;
  output: Exclude<OutputFormat, 'name'>;
}

async function get(api: ApiClient, args: GetArguments): Promise<void> {
  const style = stdoutStyle();
  if (args.watch) return watch(api, args);
  const query = { labelSelector: args.labelSelector };
  const objects = args.name ? [await api.get(args.kind, args.name)] : (await api.list(args.kind, query)).items;
  const format = args.output.format;
  if (objects.length === 0 && (format === 'table' || format === 'custom-columns')) {
    process.stderr.write(
      `No ${args.kind.toLowerCase()} found${args.labelSelector ? ` matching ${args.labelSelector}` : ''}.\n`,
    );
    return;
  }
  if (format === 'jsonpath' || format === 'custom-columns') {
    process.stdout.write(templated(args.output, objects, args.name !== undefined));
    return;
  }
  process.stdout.write(formatObjects(args.kind, objects, format, args.name !== undefined, style));
}

/** A template that fails on the data (a filter on a missing field) is a failure, exit 1. */
export function templated(spec: OutputSpec, items: unknown[], single: boolean): string {
  try {
    return renderTemplated(spec, items, single) ?? '';
  } catch (error) {
    if (error instanceof TemplateError) throw new CliError(error.message);
    throw error;
  }
}

/** `get -w`: the table as it is, then one line per change, until interrupted. */
async function watch(api: ApiClient, args: GetArguments): Promise<void> {
  const style = stdoutStyle();
  const output = args.output.format;
  if (output === 'jsonpath' || output === 'custom-columns')
    throw new CliError('get -w prints a table, wide, yaml, json or name; not a template', EXIT.usage);
  const wide = output === 'wide';
  const tabular = output === 'table' || wide;
  const initial: LumaObject[] = [];
  let widths: number[] | undefined;
  const lastLines = new Map<string, string>();
  const query = {
    name: args.name,
    labelSelector: args.labelSelector,
  };
  for await (const message of api.watch(args.kind, query)) {
    if (message.type === 'SYNCED') {
      if (!tabular) continue;
      const rows = [objectHeader(args.kind, wide), ...initial.map((object) => objectRow(object, wide, style))];
      // Later rows keep these widths, so the columns stay put as lines stream in.
      widths = columnWidths(rows).map((width) => width + 2);
      const lines = rows.map((cells) => tableLine(cells, widths ?? []));
      initial.forEach((object, index) => lastLines.set(object.metadata.name, lines[index + 1] ?? ''));
      process.stdout.write(lines.join('\n') + '\n');
      continue;
    }
    const object =
      message.type === 'DELETED'
        ? { ...message.object, status: { ...message.object.status, phase: 'Deleted' } }
        : message.object;
    if (tabular && widths === undefined) {
      initial.push(object as LumaObject);
      continue;
    }
    switch (output) {
      case 'json':
        process.stdout.write(`${JSON.stringify({ type: message.type, object })}\n`);
        break;
      case 'yaml':
        process.stdout.write(`---\n${stringify({ type: message.type, object })}`);
        break;
      case 'name':
        process.stdout.write(`${objectRef(object)}\n`);
        break;
      default: {
        // A status write that changes no column (a timestamp, a count not shown) prints nothing.
        const line = tableLine(objectRow(object as LumaObject, wide, style), widths ?? []);
        if (lastLines.get(object.metadata.name) === line) break;
        lastLines.set(object.metadata.name, line);
        process.stdout.write(line + '\n');
      }
    }
  }
}

async function usage(api: ApiClient, args: UsageArguments): Promise<void> {
  const summary = await api.usage(args.project);
  if (summary.leases.length === 0 && args.output === 'table') {
    process.stderr.write(
      args.project !== undefined ? `No usage recorded for project "${args.project}".\n` : 'No usage recorded.\n',
    );
    return;
  }
  process.stdout.write(formatUsage(summary, args.output));
}

async function describeObject(api: ApiClient, target: { kind: Kind; name: string }): Promise<void> {
  const object = await api.get(target.kind, target.name);
  const { items } = await api.events({ kind: target.kind, name: target.name });
  process.stdout.write(describe(object, items, stdoutStyle()));
  process.stdout.write(await describeSecretRefs(api, object));
}

async function deleteObjects(api: ApiClient, targets: Array<{ kind: Kind; name: string }>): Promise<void> {
  let failed = false;
  for (const target of targets) {
    try {
      const deleted = await api.delete(target.kind, target.name);
      // An object with finalizers stays, Terminating, until the controller has cleaned up.
      const waiting =
        deleted.metadata.deletionTimestamp !== undefined && (deleted.metadata.finalizers ?? []).length > 0;
      process.stdout.write(
        `${objectRef(deleted)} ${waiting ? 'deleting (Terminating until its containers are gone)' : 'deleted'}\n`,
      );
    } catch (error) {
      failed = true;
      process.stderr.write(`error: ${(error as Error).message}\n`);
    }
  }
  if (failed) process.exitCode = EXIT.failure;
}

interface GetOptions {
  output?: OutputSpec;
  selector?: string;
  watch?: boolean;
  project?: string;
}

function getUsage(api: ApiClient, nameArg: string | undefined, options: GetOptions): Promise<void> {
  if (nameArg !== undefined)
    throw new CliError(
      `get usage takes no name; for one project's usage write: luma get usage --project ${nameArg}`,
      EXIT.usage,
    );
  const format = options.output?.format ?? 'table';
  if (format === 'name' || format === 'jsonpath' || format === 'custom-columns')
    throw new CliError('get usage takes only --project and -o wide|yaml|json', EXIT.usage);
  if (options.selector !== undefined || options.watch)
    throw new CliError('get usage takes only --project and -o wide|yaml|json', EXIT.usage);
  return usage(api, { project: options.project, output: format });
}

export function registerObjectCommands(program: Command): void {
  program
    .command('get')
    .description('List objects of a kind, or show one; `get usage` shows what ended leases used and cost')
    .argument('<kind>', 'project, image or lease (or KIND/NAME), or usage')
    .argument('[name]', 'one object')
    .addOption(new Option('-o, --output <format>', OUTPUT_HELP).argParser(parseOutputFlag))
    .option(
      '-l, --selector <selector>',
      'only objects whose labels match: a=b, a!=b, a, !a, a in (x,y), a notin (x,y); comma means and',
    )
    .option('-w, --watch', 'after the list, print a line for every change until interrupted')
    .option('--project <name>', "with get usage: only this project's leases")
    .addHelpText(
      'after',
      `
Columns: NAME READY STATUS AGE, then per kind: projects HOSTNAMES (wide: IMAGE URL), images
(wide: IMAGE), leases PROJECT EXPIRES-IN (wide: FROM-POOL COST URL).

Examples:
  luma get projects
  luma get projects -l tier=web,env!=dev
  luma get project hello -o wide
  luma get project/hello -o yaml
  luma get projects -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}'
  luma get projects -o custom-columns=NAME:.metadata.name,HOSTS:.spec.hostnames[*]
  luma get leases -w
  luma get usage --project hello
  luma get sync`,
    )
    .action(async (kindArg: string, nameArg: string | undefined, options: GetOptions, command: Command) => {
      const api = apiClient(command);
      const special = kindArg.toLowerCase();
      if (special === 'usage') return getUsage(api, nameArg, options);
      if (special === 'sync') {
        if (nameArg !== undefined || options.selector !== undefined || options.watch || options.project !== undefined)
          throw new CliError('get sync takes only -o yaml|json|jsonpath=…', EXIT.usage);
        return getSync(api, options.output);
      }
      if (options.project !== undefined) throw new CliError('--project only goes with get usage', EXIT.usage);
      const { kind, name } = kindAndName(kindArg, nameArg);
      if (name !== undefined && options.selector !== undefined)
        throw new CliError('-l selects among many objects; it does not go with a name', EXIT.usage);
      await get(api, {
        kind,
        name,
        output: options.output ?? { format: 'table' },
        labelSelector: options.selector,
        watch: options.watch ?? false,
      });
    });

  program
    .command('describe')
    .description('Show one object in detail: spec, status, conditions and recent events')
    .argument('<kind>', 'project, image or lease (or KIND/NAME)')
    .argument('[name]')
    .addHelpText('after', '\nExamples:\n  luma describe project hello\n  luma describe lease/alice')
    .action(async (kindArg: string, nameArg: string | undefined, _options: unknown, command: Command) => {
      const { kind, name } = kindAndName(kindArg, nameArg);
      if (!name) throw new CliError('describe needs a name: luma describe KIND NAME', EXIT.usage);
      await describeObject(apiClient(command), { kind, name });
    });

  program
    .command('delete')
    .description('Delete objects by kind and name, or those a manifest declares')
    .argument('[kind]', 'project, image or lease (or KIND/NAME)')
    .argument('[name]')
    .option('-f, --filename <path>', 'delete what these manifests declare (repeatable)', collect, [])
    .option(
      '-l, --selector <selector>',
      'delete the objects of KIND whose labels match: a=b, a==b, a!=b; comma means and',
    )
    .addHelpText(
      'after',
      `
A project or lease is Terminating until its containers are gone; \`luma wait --for=delete\` waits for that.

Examples:
  luma delete project hello
  luma delete lease/alice
  luma delete -f app.yaml
  luma delete projects -l app=shop,env!=prod`,
    )
    .action(
      async (kindArg: string | undefined, nameArg: string | undefined, options: DeleteOptions, command: Command) => {
        const api = apiClient(command);
        const targets = await deleteTargets(api, kindArg, nameArg, options);
        if (targets.length === 0 && options.selector !== undefined) {
          process.stderr.write(`No objects found matching ${options.selector}.\n`);
          return;
        }
        await deleteObjects(api, targets);
      },
    );
}

interface DeleteOptions {
  filename: string[];
  selector?: string;
}

/** What one delete names: KIND NAME, -f FILE, or KIND -l SELECTOR (exactly one of them). */
async function deleteTargets(
  api: ApiClient,
  kindArg: string | undefined,
  nameArg: string | undefined,
  options: DeleteOptions,
): Promise<Array<{ kind: Kind; name: string }>> {
  if (options.filename.length > 0) {
    if (kindArg !== undefined || options.selector !== undefined)
      throw new CliError('delete takes KIND NAME, KIND -l SELECTOR or -f FILE, one of them', EXIT.usage);
    return manifestTargets(options.filename);
  }
  if (!kindArg) throw new CliError('delete needs KIND NAME, KIND -l SELECTOR or -f FILE', EXIT.usage);
  const { kind, name } = kindAndName(kindArg, nameArg);
  if (options.selector !== undefined) {
    if (name !== undefined) throw new CliError('-l selects among many objects; it does not go with a name', EXIT.usage);
    return selectedTargets(api, kind, options.selector);
  }
  if (!name) throw new CliError('delete needs a name: luma delete KIND NAME (or KIND -l SELECTOR)', EXIT.usage);
  return [{ kind, name }];
}

async function manifestTargets(paths: string[]): Promise<Array<{ kind: Kind; name: string }>> {
  // Loaded only here: parsing compiles the JSON Schemas, which other commands need not pay for.
  const { parseManifests } = await import('../../model/parse.js');
  const targets: Array<{ kind: Kind; name: string }> = [];
  for (const file of await loadFiles(paths)) {
    for (const doc of parseManifests(file.content, file.path))
      targets.push({ kind: doc.object.kind, name: doc.object.metadata.name });
  }
  return targets;
}
