import type { Command } from 'commander';
import { Option } from 'commander';
import type { ProjectObject, RevisionObject } from '../../model/types.js';
import { ApiRefusal, CliError, type ApiClient } from '../api-client.js';
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
    if (state.failed) throw new CliError(`project/${name}'s rollout failed`, EXIT.failure);
    if (!options.watch) throw new CliError(`project/${name}'s rollout is not complete`, EXIT.timeout);
    if (Date.now() >= deadline) throw new CliError(`timed out waiting for project/${name}'s rollout`, EXIT.timeout);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Sets spec.rollout.paused, as kubectl's rollout pause sets a Deployment's spec.paused:
 * a replace at the resourceVersion read, tried again if someone wrote in between.
 */
async function setPaused(api: ApiClient, name: string, paused: boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const project = await getProject(api, name);
    const rollout = project.spec.rollout;
    if (!rollout) throw new CliError(`project/${name} has no spec.rollout to ${paused ? 'pause' : 'resume'}`);
    if ((rollout.paused ?? false) === paused)
      throw new CliError(`project/${name} is ${paused ? 'already paused' : 'not paused'}`);
    const { name: _n, labels, annotations, resourceVersion } = project.metadata;
    const metadata = { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}), resourceVersion };
    const spec = { ...project.spec, rollout: { ...rollout, paused } };
    try {
      await api.put({ apiVersion: project.apiVersion, kind: 'Project', metadata, spec });
      process.stdout.write(`project/${name} ${paused ? 'paused' : 'resumed'}\n`);
      return;
    } catch (error) {
      if (!(error instanceof ApiRefusal && error.status === 409) || attempt >= 3) throw error;
    }
  }
}

function registerPauseResume(rollout: Command): void {
  for (const paused of [true, false]) {
    const verb = paused ? 'pause' : 'resume';
    rollout
      .command(verb)
      .description(paused ? 'Hold the rollout of the newest revision at its step' : 'Carry on a paused rollout')
      .argument('<project>', 'project/NAME')
      .addHelpText(
        'after',
        `
Sets spec.rollout.paused to ${String(paused)}, as kubectl rollout ${verb} does for a Deployment.
A paused rollout keeps its traffic split and the time left in its step; limits are
not judged meanwhile. A manifest applied afterwards without paused resumes it.

Example:
  luma rollout ${verb} project/web`,
      )
      .action(async (target: string, _options: unknown, command: Command) => {
        await setPaused(apiClient(command), projectName(target), paused);
      });
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
  registerPauseResume(rollout);
}
