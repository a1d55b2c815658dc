import type { ActivitySnapshot } from '../../proxy/management.js';
import { emptyCounts, type OutcomeCounts } from '../../proxy/revision-outcomes.js';

// How the leader adds the other controllers' proxies to its own (activity-exchange.ts): a
// service is as recently active as its most recently active proxy, and as loaded as all
// of them together; a revision's outcomes are every proxy's counts summed. Pure, so the
// rules are tested without a database.

/** One service's activity on every proxy: the latest activity, the requests of all of them. */
export function mergeActivity(own: ActivitySnapshot, others: readonly ActivitySnapshot[]): ActivitySnapshot {
  let lastActivityAt = own.lastActivityAt;
  let { inFlight, waiting } = own;
  for (const other of others) {
    if (other.lastActivityAt !== undefined) lastActivityAt = Math.max(lastActivityAt ?? 0, other.lastActivityAt);
    inFlight += other.inFlight;
    waiting += other.waiting;
  }
  return lastActivityAt === undefined ? { inFlight, waiting } : { lastActivityAt, inFlight, waiting };
}

export function addCounts(a: OutcomeCounts, b: OutcomeCounts): OutcomeCounts {
  const length = Math.max(a.latencyBuckets.length, b.latencyBuckets.length);
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    latencyBuckets: Array.from(
      { length },
      (_, index) => (a.latencyBuckets[index] ?? 0) + (b.latencyBuckets[index] ?? 0),
    ),
  };
}

/** Revision by revision, the sum of every set of counts. */
export function sumOutcomes(sets: ReadonlyArray<Record<string, OutcomeCounts>>): Record<string, OutcomeCounts> {
  const sum: Record<string, OutcomeCounts> = {};
  for (const set of sets)
    for (const [revision, counts] of Object.entries(set))
      sum[revision] = addCounts(sum[revision] ?? emptyCounts(), counts);
  return sum;
}

/**
 * A proxy's counts start again at zero when it restarts (a `luma proxy run` restarted under
 * a running controller), which would make a sum over proxies go down and a rollout misjudge
 * its step. This keeps one proxy's counts growing for as long as this process lives: what
 * earlier lives of the proxy counted is carried, and the current life's counts added.
 */
export class MonotonicOutcomes {
  /** Per revision: what earlier lives of the proxy counted, and the last counts seen of this life. */
  private readonly revisions = new Map<string, { carried: OutcomeCounts; last: OutcomeCounts }>();

  /** Takes the proxy's counts now; returns the growing totals. Revisions the proxy no longer has are forgotten. */
  observe(current: Record<string, OutcomeCounts>): Record<string, OutcomeCounts> {
    for (const revision of this.revisions.keys()) if (!(revision in current)) this.revisions.delete(revision);
    for (const [revision, counts] of Object.entries(current)) {
      const known = this.revisions.get(revision);
      if (!known) this.revisions.set(revision, { carried: emptyCounts(), last: counts });
      else if (restarted(counts, known.last))
        this.revisions.set(revision, { carried: addCounts(known.carried, known.last), last: counts });
      else known.last = counts;
    }
    return this.totals(current);
  }

  /** The totals with `current` as this life's counts, without taking it in (a read between two observe calls). */
  totals(current: Record<string, OutcomeCounts>): Record<string, OutcomeCounts> {
    const totals: Record<string, OutcomeCounts> = {};
    for (const [revision, counts] of Object.entries(current)) {
      const known = this.revisions.get(revision);
      if (!known) totals[revision] = counts;
      else if (restarted(counts, known.last))
        totals[revision] = addCounts(addCounts(known.carried, known.last), counts);
      else totals[revision] = addCounts(known.carried, counts);
    }
    return totals;
  }
}

/** Fewer requests than last seen: the proxy started again from zero (countsSince's rule). */
function restarted(current: OutcomeCounts, last: OutcomeCounts): boolean {
  return current.requests < last.requests;
}
