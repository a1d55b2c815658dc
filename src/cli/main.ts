#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ManifestError, parseManifests } from '../model/parse.js';
import { kindFromUserInput, KINDS, type Kind } from '../model/types.js';
import { loadManifestArguments } from '../util/manifest-files.js';
import { ApiClient, CliError, DEFAULT_SERVER } from './api-client.js';
import { describe, formatObjects, type OutputFormat } from './format.js';

// `luma`: kubectl-like and thin. Every command but `up` talks to the API.

const OUTPUT_FORMATS: OutputFormat[] = ['wide', 'yaml', 'json'];

function parseKind(input: string): Kind {
  const kind = kindFromUserInput(input);
  if (!kind) throw new CliError(`unknown kind "${input}" (known: ${KINDS.map((k) => k.toLowerCase()).join(', ')})`);
  return kind;
}

/** Accepts `project hello` and `project/hello`. */
function kindAndName(first: string, second: string | undefined): { kind: Kind; name: string | undefined } {
  const slash = first.indexOf('/');
  if (slash > 0) return { kind: parseKind(first.slice(0, slash)), name: first.slice(slash + 1) };
  return { kind: parseKind(first), name: second };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function client(command: Command): ApiClient {
  const options = command.optsWithGlobals<{ server: string }>();
  return new ApiClient(options.server);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const program = new Command();
program
  .name('luma')
  .description('Luma runs your HTTP apps as Docker containers: declare them in YAML, Luma builds, routes, starts and idles them.')
  .addOption(new Option('--server <url>', 'Luma API to talk to').env('LUMA_SERVER').default(DEFAULT_SERVER))
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

program
  .command('up')
  .description('Run Luma in one process (store, controller, proxy, API) on the embedded default')
  .addOption(new Option('--manifests <dir>', 'directory of manifests applied at start').env('LUMA_MANIFESTS').default('./manifests'))
  .addOption(new Option('--state-dir <dir>', 'where objects and state live').env('LUMA_STATE_DIR').default('./.luma'))
  .addOption(new Option('--listen <addr>', 'public HTTP listener (the proxy)').env('LUMA_LISTEN').default('127.0.0.1:8080'))
  .addOption(new Option('--api-listen <addr>', 'API listener').env('LUMA_API_LISTEN').default('127.0.0.1:7070'))
  .addOption(new Option('--https-listen <addr>', 'HTTPS listener (not available yet)').env('LUMA_HTTPS_LISTEN'))
  .addOption(new Option('--acme-directory <url>', 'ACME directory URL (not available yet)').env('LUMA_ACME_DIRECTORY'))
  .addOption(new Option('--config <file>', 'operator settings (YAML)').env('LUMA_CONFIG'))
  .addHelpText('after', '\nExample:\n  luma up --manifests ./manifests --listen 127.0.0.1:8080')
  .action(async (options: { manifests: string; stateDir: string; listen: string; apiListen: string; httpsListen?: string; acmeDirectory?: string; config?: string }) => {
    if (options.httpsListen || options.acmeDirectory) throw new CliError('--https-listen and --acme-directory are not supported yet (TLS comes in a later release)');
    const { startLuma } = await import('../daemon/up.js');
    const luma = await startLuma({
      manifests: options.manifests,
      stateDir: options.stateDir,
      listen: options.listen,
      apiListen: options.apiListen,
      ...(options.config ? { config: options.config } : {}),
    });
    process.stderr.write(`Luma is up: apps at http://127.0.0.1:${luma.proxyPort}, API at http://127.0.0.1:${luma.apiPort}, state in ${options.stateDir}\n`);
    const shutdown = (signal: string): void => {
      process.stderr.write(`luma: ${signal} received, shutting down (containers keep running and are adopted at the next start)\n`);
      void luma.stop().then(() => process.exit(0));
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });

program
  .command('apply')
  .description('Create or update objects from manifest files')
  .requiredOption('-f, --filename <path>', 'a file, a directory of *.yaml, or - for standard input (repeatable)', collect, [])
  .option('--dry-run', 'validate and report, change nothing')
  .addHelpText('after', '\nExamples:\n  luma apply -f app.yaml\n  luma apply -f manifests/\n  cat app.yaml | luma apply -f -')
  .action(async (options: { filename: string[]; dryRun?: boolean }, command: Command) => {
    const files = await loadManifestArguments(options.filename, readStdin).catch((error: Error) => {
      throw new CliError(error.message);
    });
    const response = await client(command).applyFiles(files, options.dryRun ?? false);
    const suffix = response.dryRun ? ' (dry run)' : '';
    for (const result of response.results) process.stdout.write(`${result.kind.toLowerCase()}/${result.name} ${result.result}${suffix}\n`);
  });

program
  .command('get')
  .description('List objects of a kind, or show one')
  .argument('<kind>', 'project, image or lease (or KIND/NAME)')
  .argument('[name]', 'one object')
  .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS))
  .addHelpText('after', '\nExamples:\n  luma get projects\n  luma get project hello -o json')
  .action(async (kindArg: string, nameArg: string | undefined, options: { output?: OutputFormat }, command: Command) => {
    const { kind, name } = kindAndName(kindArg, nameArg);
    const api = client(command);
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
  .action(async (kindArg: string, nameArg: string | undefined, _options: unknown, command: Command) => {
    const { kind, name } = kindAndName(kindArg, nameArg);
    if (!name) throw new CliError('describe needs a name: luma describe KIND NAME');
    process.stdout.write(describe(await client(command).get(kind, name)));
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
      const files = await loadManifestArguments(options.filename, readStdin).catch((error: Error) => {
        throw new CliError(error.message);
      });
      for (const file of files) {
        for (const doc of parseManifests(file.content, file.path)) targets.push({ kind: doc.object.kind, name: doc.object.metadata.name });
      }
    } else {
      if (!kindArg) throw new CliError('delete needs KIND NAME or -f FILE');
      const { kind, name } = kindAndName(kindArg, nameArg);
      if (!name) throw new CliError('delete needs a name: luma delete KIND NAME');
      targets.push({ kind, name });
    }
    const api = client(command);
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

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CliError || error instanceof ManifestError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  }
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  // Startup failures (Docker down, a port taken, a bad flag) are one line, not a stack trace.
  process.stderr.write(`error: ${message}${code === 'EADDRINUSE' ? ' (the address is in use; pick another with --listen / --api-listen)' : ''}\n`);
  if (process.env.LUMA_DEBUG) console.error(error);
  process.exit(1);
});
