import type { Command } from 'commander';
import { Option } from 'commander';
import { parseDuration, QuantityError } from '../../model/quantities.js';
import { loadManifestArguments } from '../../util/manifest-files.js';
import { CliError, nameTooLarge, type ApiClient } from '../api-client.js';
import { apiClient, collect, readStdin } from '../common.js';
import { DIFF_EXIT, EXIT } from '../exit-codes.js';
import { diffObject } from '../object-diff.js';
import { revisionChange } from '../../model/revision-change.js';
import { declaresNothing, noObjectsMessage } from '../empty-manifests.js';
import { waitForObjects } from '../object-waiter.js';
import { stdoutStyle, styleWord } from '../style.js';
import { parseDryRun, type DryRun } from '../dry-run.js';
import { manifestSummary } from '../manifest-summary.js';

// `luma apply` and `luma diff`: both send the manifests to the API once; diff as a dry run.

export const DEFAULT_APPLY_WAIT_TIMEOUT = '5m';

interface ApplyArguments {
  files: Array<{ path: string; content: string }>;
  dryRun: Exclude<DryRun, 'client'>;
  /** Undefined without --wait. */
  waitTimeoutMs: number | undefined;
}

interface DiffArguments {
  files: Array<{ path: string; content: string }>;
}

export async function loadFiles(paths: string[]): Promise<Array<{ path: string; content: string }>> {
  return loadManifestArguments(paths, readStdin).catch((error: Error) => {
    throw new CliError(error.message);
  });
}

/** A duration flag (`30s`, `5m`); a bad one is a usage error naming the flag. */
export function durationFlag(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof QuantityError)
      throw new CliError(`${flag}: "${value}" is not a duration (write 30s, 5m or 1h30m)`, EXIT.usage);
    throw error;
  }
}

/**
 * Loaded when used: it parses manifests (JSON Schema compilation) and packs archives,
 * seconds of start-up on a busy machine that `get`, `wait` and friends should not pay.
 */
async function uploadContexts(
  ...args: Parameters<typeof import('../context-upload.js').uploadContexts>
): ReturnType<typeof import('../context-upload.js').uploadContexts> {
  return (await import('../context-upload.js')).uploadContexts(...args);
}

async function apply(api: ApiClient, args: ApplyArguments): Promise<void> {
  const dryRun = args.dryRun === 'server';
  // A dry run sends no build context: the digests computed here tell the server enough.
  const contexts = await uploadContexts(api, args.files, { upload: !dryRun });
  const bytes = args.files.reduce((sum, file) => sum + Buffer.byteLength(file.content), 0);
  const response = await api
    .applyFiles(args.files, dryRun, contexts)
    .catch(nameTooLarge(`${args.files.map((file) => file.path).join(', ')} (${bytes} bytes)`));
  const style = stdoutStyle();
  const suffix = response.dryRun ? ' (dry run)' : '';
  for (const result of response.results)
    process.stdout.write(`${result.kind.toLowerCase()}/${result.name} ${styleWord(style, result.result)}${suffix}\n`);
  if (args.waitTimeoutMs === undefined || dryRun) return;
  await waitForObjects(
    api,
    response.results,
    { type: 'condition', condition: 'Ready', status: 'True' },
    {
      timeoutMs: args.waitTimeoutMs,
      onProgress: (ref, progress) => process.stdout.write(`${ref}: ${progress}\n`),
      onDone: (ref) => process.stdout.write(`${ref}: ${style.good('Ready')}\n`),
    },
  );
}

async function diff(api: ApiClient, args: DiffArguments): Promise<number> {
  const contexts = await uploadContexts(api, args.files, { upload: false });
  const response = await api.applyFiles(args.files, true, contexts);
  const style = stdoutStyle();
  let changed = false;
  for (const result of response.results) {
    if (!result.object)
      throw new CliError('the API answered the dry run without the objects (is it older than this CLI?)');
    const text = diffObject(
      { kind: result.kind, name: result.name, live: result.live ?? null, planned: result.object },
      style,
    );
    if (text === '') continue;
    changed = true;
    process.stdout.write(text);
    const live = result.live ?? null;
    const note =
      result.object.kind === 'Project' && live?.kind === 'Project' ? revisionChange(live, result.object) : undefined;
    if (note !== undefined) process.stdout.write(`project/${result.name}: ${note}\n`);
  }
  return changed ? DIFF_EXIT.different : DIFF_EXIT.same;
}

/** Any failure of diff exits 2 or more, so that 1 always means "there are differences". */
function asDiffFailure(error: unknown): unknown {
  if (error instanceof CliError)
    return error.exitCode >= DIFF_EXIT.error ? error : new CliError(error.message, DIFF_EXIT.error);
  if (error instanceof Error) return new CliError(error.message, DIFF_EXIT.error);
  return error;
}

export function registerApplyCommands(program: Command): void {
  program
    .command('apply')
    .description('Create or update objects from manifest files; prints created, configured or unchanged for each')
    .requiredOption(
      '-f, --filename <path>',
      'a file, a directory of *.yaml, or - for standard input (repeatable)',
      collect,
      [],
    )
    .option(
      '--dry-run [strategy]',
      'change nothing: server (the default) asks the API what would happen; client only validates here, offline; none applies',
    )
    .option('--wait', 'then wait until every object is Ready, printing a line each time one moves')
    .addOption(new Option('--timeout <duration>', 'with --wait: how long to wait').default(DEFAULT_APPLY_WAIT_TIMEOUT))
    .addHelpText(
      'after',
      `
A field removed from a manifest is removed from the object (it takes its default): the
manifest is the whole desired state. Applying the same manifest again prints "unchanged".

Examples:
  luma apply -f app.yaml
  luma apply -f manifests/
  cat app.yaml | luma apply -f -
  luma apply -f app.yaml --dry-run            # same as --dry-run=server
  luma apply -f app.yaml --dry-run=client     # schema checks only, no API needed
  luma apply -f app.yaml --wait --timeout 2m

Exit codes: 0 applied (and Ready, with --wait); 1 refused or stalled; 2 bad command line; 3 --wait timed out.`,
    )
    .action(
      async (
        options: { filename: string[]; dryRun?: string | boolean; wait?: boolean; timeout: string },
        command: Command,
      ) => {
        const dryRun = parseDryRun(options.dryRun);
        const waitTimeoutMs = options.wait ? durationFlag('--timeout', options.timeout) : undefined;
        const files = await loadFiles(options.filename);
        if (files.every((file) => declaresNothing(file.content)))
          throw new CliError(noObjectsMessage(options.filename));
        if (dryRun === 'client') {
          process.stdout.write(await manifestSummary(files, '(client dry run)'));
          return;
        }
        await apply(apiClient(command), { files, dryRun, waitTimeoutMs });
      },
    );

  program
    .command('diff')
    .description('Show what `luma apply` would change, as a unified diff of each changed object')
    .requiredOption(
      '-f, --filename <path>',
      'a file, a directory of *.yaml, or - for standard input (repeatable)',
      collect,
      [],
    )
    .addHelpText(
      'after',
      `
Compares the fields a manifest owns (labels, annotations, spec) with what is stored. Build
contexts are compared by digest, computed locally: nothing is uploaded.

Examples:
  luma diff -f app.yaml
  luma diff -f manifests/ && echo "in sync"

Exit codes: 0 no differences; 1 differences; 2 or more an error (invalid manifest, API unreachable).`,
    )
    .action(async (options: { filename: string[] }, command: Command) => {
      try {
        process.exitCode = await diff(apiClient(command), { files: await loadFiles(options.filename) });
      } catch (error) {
        throw asDiffFailure(error);
      }
    });
}
