import type { ProjectStatus } from '../model/types.js';
import { errorMessage } from '../util/error-message.js';
import { ReadinessTimeoutError } from '../util/readiness-probe.js';
import type { Readiness } from './conditions.js';
import { crashLoopMessage, crashLoopReason, type CrashLoopState } from './crash-loop.js';
import { IMAGE_NOT_ALLOWED } from './image-policy.js';
import { INSUFFICIENT_MEMORY } from './memory-budget.js';

// The reasons a Project's Ready, Reconciling and Stalled conditions give, declared once,
// and the small helpers that turn a failure or an outcome into a readiness.

export const ProjectReason = {
  Running: 'Running',
  ScaledToZero: 'ScaledToZero',
  Starting: 'Starting',
  CrashLoopBackOff: 'CrashLoopBackOff',
  ImageNotFound: 'ImageNotFound',
  ImageNotReady: 'ImageNotReady',
  ImageNotAllowed: IMAGE_NOT_ALLOWED,
  InsufficientMemory: INSUFFICIENT_MEMORY,
  StartFailed: 'StartFailed',
  DockerUnavailable: 'DockerUnavailable',
  SecretNotFound: 'SecretNotFound',
} as const;

export type ProjectReason = (typeof ProjectReason)[keyof typeof ProjectReason];

/** Why the project does not serve as declared. */
export interface Failure {
  reason: ProjectReason;
  /** For status: may carry the app's log lines. */
  message: string;
  /** For HTTP clients answered 503 through the proxy, when it must say less than status. */
  publicMessage?: string;
}

/** Failures that resolve themselves (an Image still building, memory freeing): Reconciling, not Stalled. */
const WAITING: ReadonlySet<ProjectReason> = new Set([ProjectReason.ImageNotReady, ProjectReason.InsufficientMemory]);

export function failure(reason: ProjectReason, message: string): Failure {
  return { reason, message };
}

/**
 * A Secret or key the env reads is missing. Status names it; HTTP clients only hear that
 * the app waits for its configuration, not which secret.
 */
export function secretFailure(message: string): Failure {
  return {
    reason: ProjectReason.SecretNotFound,
    message: `${message}; the project starts once it exists`,
    publicMessage: 'the app is waiting for a secret it needs',
  };
}

/**
 * An instance could not be started. The error is for status (secret values already
 * scrubbed from it); HTTP clients hear a fixed text, as an engine's error may quote the
 * container's configuration, or that the app did not become ready in time.
 */
export function startFailure(error: unknown): Failure {
  const publicMessage =
    error instanceof ReadinessTimeoutError
      ? `the app did not become ready within ${error.timeoutMs / 1000}s`
      : 'the app could not be started';
  return { reason: ProjectReason.StartFailed, message: errorMessage(error), publicMessage };
}

/** The loop as status tells it (`starting`: a start runs now) and as held requests hear it. */
export function crashLoopFailure(loop: CrashLoopState, now: number, starting = false): Failure {
  return {
    reason: ProjectReason.CrashLoopBackOff,
    message: crashLoopMessage(loop, now, starting),
    publicMessage: crashLoopReason(loop, now),
  };
}

/** What a held request is told when no target can take it. */
export function publicMessageOf(failed: Failure): string {
  return failed.publicMessage ?? failed.message;
}

/** The three readiness conditions for a phase and, when there is one, a failure. */
export function readinessFor(
  phase: NonNullable<ProjectStatus['phase']>,
  serving: number,
  failed: Failure | undefined,
): Readiness {
  if (failed) {
    const state = WAITING.has(failed.reason) ? 'reconciling' : 'stalled';
    return { state, reason: failed.reason, message: failed.message };
  }
  if (phase === 'Starting')
    return { state: 'reconciling', reason: ProjectReason.Starting, message: 'an instance is starting' };
  if (serving > 0) return { state: 'ready', reason: ProjectReason.Running, message: `${serving} instance(s) serving` };
  return {
    state: 'ready',
    reason: ProjectReason.ScaledToZero,
    message: 'no instance runs; the next request starts one',
  };
}
