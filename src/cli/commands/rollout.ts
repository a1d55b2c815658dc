import type { Command } from 'commander';
import { Option } from 'commander';
import type { ProjectObject, RevisionObject } from '../../model/types.js';
import { CliError, type ApiClient } from '../api-client.js';
import { apiClient, kindAndName } from '../common.js';
import { EXIT } from '../exit-codes.js';
import { historyTable, rolloutState } from '../rollout-format.js';
import { durationFlag } from './apply.js';
import { registerRolloutUndo } from './rollout-undo.js';

// `luma rollout status|history project/NAME`, as kubectl's rollout for a Deployment: what
// the project's revisions are, and whether the newest one has taken over.

const DEFAULT_ROLLOUT_TIMEOUT = '5m';
const POLL_MS = 500;

function projectName(target: string): string {
  const { kind, name } = kindAndName(target, undefined);
  if (kind !== 'Project' || !name) throw new CliError(`rollout needs project/NAME, got "${target}"`, EXIT.usage);
  return name;
}

async function getProject(api: ApiClient, name: string): Promise<ProjectObject> {
  const object = await api.get('Project', name);
  if (object.kind !== 'Project') throw new CliError(`project/${name} is not a project`);
  return object;
}

async function history(api: ApiClient, name: string): Promise<void> {
  await getProject(api, name);
  const { items } = await api.list('Revision', { labelSelector: `project=${name}` });
  const revisions = items.filter((item): item is RevisionObject => item.kind === 'Revision');
  if (revisions.length === 0) process.stdout.write(`project/${name} has no revision yet\n`);
  else process.stdout.write(historyTable(revisions));
}

/** Prints each new state until the rollout is complete, or gives up at the timeout (exit 3). */
async function status(api: ApiClient, name: string, options: { watch: boolean; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last = '';
  for (;;) {
    const state = rolloutState(await getProject(api, name));
    if (state.message !== last) process.stdout.write(`${state.message}\n`);
    last = state.message;
    if (state.done) return;
    if (!options.watch) throw new CliError(`project/${name}'s rollout is not complete`, EXIT.timeout);
    if (Date.now() >= deadline) throw new CliError(`timed out waiting for project/${name}'s rollout`, EXIT.timeout);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function registerRolloutCommand(program: Command): void {
  const rollout = program
    .command('rollout')
    .description("Follow a project's revisions: whether the newest serves, and the history");
  rollout
    .command('status')
    .description('Wait until the revision of what the project declares serves')
    .argument('<project>', 'project/NAME')
    .option('--no-watch', 'print where it stands once, without waiting (exit 3 when not complete)')
    .addOption(new Option('--timeout <duration>', 'how long to wait').default(DEFAULT_ROLLOUT_TIMEOUT))
    .addHelpText(
      'after',
      `
Complete when the revision of what the project declares now serves its traffic (or, for
a project scaled to zero, is the one its next request starts).

Examples:
  luma apply -f web.yaml && luma rollout status project/web
  luma rollout status project/web --no-watch

Exit codes: 0 complete; 1 not found; 2 bad command line; 3 timed out (or not complete, with --no-watch).`,
    )
    .action(async (target: string, options: { watch: boolean; timeout: string }, command: Command) => {
      const timeoutMs = durationFlag('--timeout', options.timeout);
      await status(apiClient(command), projectName(target), { watch: options.watch, timeoutMs });
    });
  rollout
    .command('history')
    .description("List the project's revisions, oldest first, with what changed in each")
    .argument('<project>', 'project/NAME')
    .addHelpText(
      'after',
      `
Examples:
  luma rollout history project/web
  luma get revisions -l project=web -o wide`,
    )
    .action(async (target: string, _options: unknown, command: Command) => {
      await history(apiClient(command), projectName(target));
    });
  registerRolloutUndo(rollout, projectName);
}
