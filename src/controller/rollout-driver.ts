import type { EventRecorder } from '../events/event-log.js';
import type { ProjectObject, ProjectRevisions, RolloutCounts, RolloutStatus, TrafficTarget } from '../model/types.js';
import type { ProxyManagement } from '../proxy/management.js';
import type { Logger } from '../util/logger.js';
import { ROLLOUT_UNDO_ANNOTATION, parseRolloutUndo } from '../model/rollout-undo.js';
import { errorMessage } from '../util/error-message.js';
import { decideRollout } from './rollout.js';
import type { ReconcileResult } from './work-queue.js';

// Runs the pure rollout (rollout.ts) once per converge of a project: reads the candidate's
// counts from the proxy, decides, and turns the decision's transitions into events (and
// through them webhooks). It keeps nothing between calls: status.rollout is the state,
// written by the reconciler in its one status write.

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
}

export class RolloutDriver {
  constructor(private readonly options: RolloutDriverOptions) {}

  /** `revisions`: what this converge found (latestCreated, latestReady). */
  async step(project: ProjectObject, revisions: ProjectRevisions): Promise<RolloutOutcome> {
    const name = project.metadata.name;
    const candidate = revisions.latestCreated;
    const previous = project.status?.rollout;
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
    for (const transition of decision.transitions) {
      this.options.events.record({ kind: 'Project', name }, transition.type, transition.reason, transition.message);
      this.options.logger.info({ project: name, reason: transition.reason }, transition.message);
    }
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
      rollout: decision.status ?? null,
      traffic: decision.traffic ?? null,
      requeue: underWay ? { requeueAfterMs: ROLLOUT_CHECK_MS } : ended ? { requeueAfterMs: 0 } : undefined,
    };
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

/** The sooner of two requeues (undefined: none). */
export function soonerOf(a: ReconcileResult, b: ReconcileResult): ReconcileResult {
  const after = [a?.requeueAfterMs, b?.requeueAfterMs].filter((ms): ms is number => ms !== undefined);
  return after.length === 0 ? undefined : { requeueAfterMs: Math.min(...after) };
}
