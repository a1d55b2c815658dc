// How each revision's requests ended, as the proxy saw them: how many, how many answered
// 5xx, and how long they took (a fixed-bucket histogram). Counts only grow; whoever judges
// a stretch of time (a rollout step) keeps the counts at its start and subtracts them
// (countsSince), as Prometheus' increase() does, so the proxy keeps no window per reader.

/** Upper bounds (ms) of the latency buckets; the last bucket holds everything slower. */
export const LATENCY_BOUNDS_MS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000];

export interface OutcomeCounts {
  requests: number;
  /** Answers with a status of 500 to 599 (the proxy's own 502/503/504 included). */
  errors: number;
  /** One count per LATENCY_BOUNDS_MS bucket, plus one for slower answers. */
  latencyBuckets: number[];
}

export function emptyCounts(): OutcomeCounts {
  return { requests: 0, errors: 0, latencyBuckets: LATENCY_BOUNDS_MS.map(() => 0).concat(0) };
}

function bucketOf(ms: number): number {
  const index = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index < 0 ? LATENCY_BOUNDS_MS.length : index;
}

/** Every revision's counts since the proxy started. */
export class RevisionOutcomes {
  private readonly counts = new Map<string, OutcomeCounts>();

  record(revision: string, status: number, durationMs: number): void {
    let counts = this.counts.get(revision);
    if (!counts) this.counts.set(revision, (counts = emptyCounts()));
    counts.requests += 1;
    if (status >= 500 && status <= 599) counts.errors += 1;
    const bucket = bucketOf(durationMs);
    counts.latencyBuckets[bucket] = (counts.latencyBuckets[bucket] ?? 0) + 1;
  }

  /** A copy of every revision's counts, by revision name. */
  snapshot(): Record<string, OutcomeCounts> {
    const copy: Record<string, OutcomeCounts> = {};
    for (const [revision, counts] of this.counts)
      copy[revision] = { ...counts, latencyBuckets: [...counts.latencyBuckets] };
    return copy;
  }

  /**
   * Only revisions some route still names keep their counts: a pruned revision's, or a
   * deleted project's, go, so the map never outgrows the route table. An answer that
   * finishes after its route went counts again, and goes at the next sweep.
   */
  keepOnly(routed: (revision: string) => boolean): void {
    for (const revision of this.counts.keys()) if (!routed(revision)) this.counts.delete(revision);
  }
}

/**
 * The counts added since `base`. Counts below `base` mean the proxy restarted (they start
 * at zero again): then everything counted since the restart is what was added.
 */
export function countsSince(current: OutcomeCounts, base: OutcomeCounts | undefined): OutcomeCounts {
  if (!base || current.requests < base.requests) return current;
  return {
    requests: current.requests - base.requests,
    errors: Math.max(0, current.errors - base.errors),
    latencyBuckets: current.latencyBuckets.map((count, index) =>
      Math.max(0, count - (base.latencyBuckets[index] ?? 0)),
    ),
  };
}

/**
 * The 99th percentile of the answer times, as the upper bound of the bucket it falls in
 * (Prometheus' histogram_quantile without interpolation: never below the truth). Slower
 * than the last bound: Infinity. No request: undefined.
 */
export function p99Ms(counts: OutcomeCounts): number | undefined {
  if (counts.requests === 0) return undefined;
  const rank = Math.ceil(counts.requests * 0.99);
  let seen = 0;
  for (let index = 0; index < counts.latencyBuckets.length; index++) {
    seen += counts.latencyBuckets[index] ?? 0;
    if (seen >= rank) return LATENCY_BOUNDS_MS[index] ?? Infinity;
  }
  return Infinity;
}
