import type { Command } from 'commander';
import { Option } from 'commander';
import { CliError, type ApiClient } from '../api-client.js';
import { apiClient, kindAndName } from '../common.js';
import { EXIT } from '../exit-codes.js';
import { waitForObjects, type WaitTarget } from '../object-waiter.js';
import { parseWaitFor, WaitForError, type WaitFor } from '../readiness.js';
import { durationFlag } from './apply.js';

// `luma wait --for=condition=Ready|delete KIND/NAME... --timeout D`, as kubectl wait.

export const DEFAULT_WAIT_TIMEOUT = '30s';

interface WaitArguments {
  targets: WaitTarget[];
  waitFor: WaitFor;
  timeoutMs: number;
}

async function wait(api: ApiClient, args: WaitArguments): Promise<void> {
  await waitForObjects(api, args.targets, args.waitFor, {
    timeoutMs: args.timeoutMs,
    onDone: (_ref, message) => process.stdout.write(`${message}\n`),
  });
}

function parseTargets(inputs: string[]): WaitTarget[] {
  if (inputs.length === 0) throw new CliError('wait needs at least one KIND/NAME, such as project/hello', EXIT.usage);
  return inputs.map((input) => {
    const { kind, name } = kindAndName(input, undefined);
    if (!name) throw new CliError(`"${input}": write KIND/NAME, such as project/hello`, EXIT.usage);
    return { kind, name };
  });
}

export function registerWaitCommand(program: Command): void {
  program
    .command('wait')
    .description('Wait until objects meet a condition (such as Ready) or are deleted')
    .argument('<targets...>', 'KIND/NAME, one or more')
    .requiredOption('--for <what>', 'condition=Ready, condition=TYPE=True|False, or delete')
    .addOption(new Option('--timeout <duration>', 'how long to wait').default(DEFAULT_WAIT_TIMEOUT))
    .addHelpText(
      'after',
      `
A condition counts only once the controller has seen the current spec (observedGeneration),
so "wait" right after "apply" waits for the new spec, not the old one. Waiting for Ready
stops early when the object is Stalled (it will not get there without a change).

Examples:
  luma wait --for=condition=Ready project/hello --timeout 30s
  luma wait --for=condition=Ready image/hello project/hello --timeout 5m
  luma wait --for=delete lease/alice

Exit codes: 0 met; 1 not found, stalled or refused; 2 bad command line; 3 timed out.`,
    )
    .action(async (targets: string[], options: { for: string; timeout: string }, command: Command) => {
      let waitFor: WaitFor;
      try {
        waitFor = parseWaitFor(options.for);
      } catch (error) {
        if (error instanceof WaitForError) throw new CliError(error.message, EXIT.usage);
        throw error;
      }
      await wait(apiClient(command), {
        targets: parseTargets(targets),
        waitFor,
        timeoutMs: durationFlag('--timeout', options.timeout),
      });
    });
}
