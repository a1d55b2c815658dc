import type { EventHistory, EventRecorder } from '../events/event-log.js';
import type {
  ProjectObject,
  ProjectRevisions,
  RolloutCounts,
  RolloutEventRecord,
  RolloutStatus,
  TrafficTarget,
} from '../model/types.js';
import type { ProxyManagement } from '../proxy/management.js';
import type { Logger } from '../util/logger.js';
import { ROLLOUT_UNDO_ANNOTATION, parseRolloutUndo } from '../model/rollout-undo.js';
import { errorMessage } from '../util/error-message.js';
import { decideRollout, type RolloutTransition } from './rollout.js';
import type { ReconcileResult } from './work-queue.js';

// Runs the pure rollout (rollout.ts) once per converge of a project: reads the candidate's
// counts from the proxy, decides, and turns the decision's transitions into events (and
// through them webhooks). status.rollout is the state, written by the reconciler in its
// one status write; the transitions go in it too (pendingEvents), and become events only
// after that write (announce). A controller that dies between the two announces them when
// it looks again; one that dies after announcing finds them in the event log, and does
// not announce them twice. `announcedAt` is only a cache of what this process announced.

/** How often a rollout under way is looked at: a step's limits are judged this often. */
export const ROLLOUT_CHECK_MS = 1_000;

export interface RolloutOutcome {
  /** `null` clears status.rollout. */
  rollout: RolloutStatus | null;
  /** The split to route, `null` when no rollout holds it (the declared traffic then). */
  traffic: TrafficTarget[] | null;
  /** When to look again while a rollout is under way. */
  requeue: ReconcileResult;
}

export interface RolloutDriverOptions {
  proxy: Pick<ProxyManagement, 'revisionOutcomes'>;
  events: EventRecorder;
  logger: Logger;
  now: () => number;
  /** The events recorded so far; absent: only this process's announcements are known. */
  history?: EventHistory;
}

export class RolloutDriver {
  /** Per project, when the transitions this process last announced were decided. */
  private readonly announcedAt = new Map<string, string>();

  constructor(private readonly options: RolloutDriverOptions) {}

  /** `revisions`: what this converge found (latestCreated, latestReady). */
  async step(project: ProjectObject, revisions: ProjectRevisions): Promise<RolloutOutcome> {
    const name = project.metadata.name;
    const candidate = revisions.latestCreated;
    const previous = project.status?.rollout;
    // Written before a crash and perhaps never announced: announced now, once.
    this.announce(name, previous);
    const decision = decideRollout({
      spec: project.spec.rollout,
      previous,
      candidate,
      candidateReady: candidate !== undefined && revisions.latestReady === candidate,
      lastGood: previous ? undefined : project.status?.revisions?.latestReady,
      // Only a rollout reads the proxy's counts: a project without one costs no round trip.
      outcomes:
        candidate !== undefined && (project.spec.rollout || previous)
          ? await this.countsOf(name, candidate)
          : undefined,
      now: this.options.now(),
      undo: parseRolloutUndo(project.metadata.annotations?.[ROLLOUT_UNDO_ANNOTATION]),
    });
    const status = decision.status && withPending(decision.status, decision.transitions, this.options.now());
    const underWay = decision.status?.phase === 'Progressing';
    // A rollout that just ended hands the split back to spec.traffic: routed at once, not
    // at the next resync.
    const ended =
      previous !== undefined &&
      previous.phase !== 'Succeeded' &&
      decision.status?.phase !== previous.phase &&
      !underWay &&
      decision.traffic === undefined;
    return {
      rollout: status ?? null,
      traffic: decision.traffic ?? null,
      requeue: underWay ? { requeueAfterMs: ROLLOUT_CHECK_MS } : ended ? { requeueAfterMs: 0 } : undefined,
    };
  }

  /** After the status write: the transitions it holds become events, each once. */
  announce(project: string, rollout: RolloutStatus | null | undefined): void {
    const pending = rollout?.pendingEvents ?? [];
    const decidedAt = pending[0]?.decidedAt;
    // Nothing pending in what was written: nothing to remember for this project either.
    if (decidedAt === undefined) this.announcedAt.delete(project);
    if (decidedAt === undefined || this.announcedAt.get(project) === decidedAt) return;
    for (const record of pending) {
      if (this.recorded(project, record)) continue;
      this.options.events.record({ kind: 'Project', name: project }, record.type, record.reason, record.message);
      this.options.logger.info({ project, reason: record.reason }, record.message);
    }
    this.announcedAt.set(project, decidedAt);
  }

  /** Whether the log holds the event already: the same reason and message, recorded since it was decided. */
  private recorded(project: string, record: RolloutEventRecord): boolean {
    const since = Date.parse(record.decidedAt);
    return (this.options.history?.({ kind: 'Project', name: project }) ?? []).some(
      (event) =>
        event.reason === record.reason && event.message === record.message && Date.parse(event.lastTimestamp) >= since,
    );
  }

  /** The candidate's counts; a proxy that cannot answer leaves the step unjudged, not failed. */
  private async countsOf(project: string, revision: string): Promise<RolloutCounts | undefined> {
    try {
      return (await this.options.proxy.revisionOutcomes())[revision];
    } catch (error) {
      this.options.logger.warn({ project, err: errorMessage(error) }, 'could not read the revision counts');
      return undefined;
    }
  }
}

/** The status to write: this decision's transitions pending in it (an earlier decision's are announced). */
function withPending(status: RolloutStatus, transitions: readonly RolloutTransition[], now: number): RolloutStatus {
  const { pendingEvents: _announced, ...rest } = status;
  if (transitions.length === 0) return rest;
  const decidedAt = new Date(now).toISOString();
  return { ...rest, pendingEvents: transitions.map((transition) => ({ ...transition, decidedAt })) };
}

/** The sooner of two requeues (undefined: none). */
export function soonerOf(a: ReconcileResult, b: ReconcileResult): ReconcileResult {
  const after = [a?.requeueAfterMs, b?.requeueAfterMs].filter((ms): ms is number => ms !== undefined);
  return after.length === 0 ? undefined : { requeueAfterMs: Math.min(...after) };
}
