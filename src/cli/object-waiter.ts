import type { Kind, LumaObject } from '../model/types.js';
import type { ApiClient } from './api-client.js';
import { CliError } from './api-client.js';
import { EXIT } from './exit-codes.js';
import { describeWaitFor, judge, type WaitFor } from './readiness.js';

// Waits for objects over the API's watch stream (no polling): each target is judged on
// its state as the stream opens and on every change after, until it is done, it fails, or
// the time runs out. Progress is reported only when it changes.

export interface WaitTarget {
  kind: Kind;
  name: string;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Called with a target's new state in words, each time it changes. */
  onProgress?: (ref: string, progress: string) => void;
  /** Called as each target is done. */
  onDone?: (ref: string, message: string) => void;
}

function refOf(target: WaitTarget): string {
  return `${target.kind.toLowerCase()}/${target.name}`;
}

/** Resolves when every target is done; throws a CliError (timeout: exit 3) otherwise. */
export async function waitForObjects(
  api: ApiClient,
  targets: WaitTarget[],
  waitFor: WaitFor,
  options: WaitOptions,
): Promise<void> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const stopAll = new AbortController();
  const signal = AbortSignal.any([timeout, stopAll.signal]);
  const lastProgress = new Map<string, string>();
  try {
    await Promise.all(
      targets.map(async (target) => {
        const ref = refOf(target);
        let latest: LumaObject | undefined;
        let synced = false;
        for await (const message of api.watch(target.kind, { name: target.name }, signal)) {
          if (message.type === 'SYNCED') synced = true;
          else latest = message.type === 'DELETED' ? undefined : message.object;
          if (!synced) continue;
          const verdict = judge(latest, waitFor, ref);
          if (verdict.outcome === 'done') return options.onDone?.(ref, verdict.message);
          if (verdict.outcome === 'failed') throw new CliError(verdict.message);
          if (lastProgress.get(ref) !== verdict.progress) {
            lastProgress.set(ref, verdict.progress);
            options.onProgress?.(ref, verdict.progress);
          }
        }
        if (timeout.aborted) {
          const where = lastProgress.get(ref);
          throw new CliError(
            `timed out after ${formatSeconds(options.timeoutMs)} waiting for ${ref} to ${describeWaitFor(waitFor)}${where ? `; it is ${where}` : ''}`,
            EXIT.timeout,
          );
        }
      }),
    );
  } finally {
    // One target failing ends the others' streams too.
    stopAll.abort();
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
