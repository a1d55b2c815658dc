// How a project's requests are shared among its revisions: each share names the service
// that serves a revision and its weight (spec.traffic's percents). Smooth weighted
// round-robin (as nginx balances weighted upstreams): deterministic, so 90/10 over 1,000
// requests is 900/100 exactly, and interleaved, so the small share is never served in a burst.

export interface SplitShare {
  /** The service serving this revision: the route's own (its targets) or a revision's service. */
  service: string;
  /** The revision, for the `revision` of logs and records. */
  revision: string;
  /** A relative weight, 0 included (a tag-only revision). */
  weight: number;
}

export class WeightedSplit {
  private readonly current: number[];
  private readonly total: number;

  constructor(readonly shares: readonly SplitShare[]) {
    this.current = shares.map(() => 0);
    this.total = shares.reduce((sum, share) => sum + share.weight, 0);
  }

  /** The share the next request goes to; undefined when no share has weight. */
  next(): SplitShare | undefined {
    if (this.total <= 0) return undefined;
    let best = -1;
    for (let index = 0; index < this.shares.length; index++) {
      this.current[index] = (this.current[index] ?? 0) + (this.shares[index]?.weight ?? 0);
      if (best < 0 || (this.current[index] ?? 0) > (this.current[best] ?? 0)) best = index;
    }
    this.current[best] = (this.current[best] ?? 0) - this.total;
    return this.shares[best];
  }
}

/** A deploy's shares as they must be: named services, whole weights of 0 or more, some weight in all. */
export function checkShares(shares: readonly SplitShare[]): void {
  if (shares.length === 0) throw new Error('split: expected at least one share');
  for (const share of shares) {
    if (!share.service || !share.revision) throw new Error('split: every share names its service and revision');
    if (!Number.isInteger(share.weight) || share.weight < 0)
      throw new Error(`split: weight of ${share.revision} must be a whole number of 0 or more, got ${share.weight}`);
  }
  if (shares.every((share) => share.weight === 0)) throw new Error('split: expected some share with a weight above 0');
}
