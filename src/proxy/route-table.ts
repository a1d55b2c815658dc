import { EventEmitter } from 'node:events';
import { RequestQueue } from './request-queue.js';
import { checkShares, WeightedSplit } from './traffic-split.js';
import {
  HostConflictError,
  UnknownServiceError,
  type DeployRequest,
  type HostMove,
  type ServiceInfo,
  type SplitShare,
} from './management.js';

// Host → service → targets, plus the per-service activity the controller reads for its
// idle and scaling decisions. Pure bookkeeping: no sockets here.

export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;
export const DEFAULT_RESPONSE_TIMEOUT_MS = 30_000;
/** Requests that may wait for a slot when a service caps its concurrency and says no bound. */
export const DEFAULT_MAX_QUEUED = 1_000;

export class Target {
  inFlight = 0;
  constructor(
    readonly address: string,
    readonly host: string,
    readonly port: number,
  ) {}

  static parse(address: string): Target {
    const match = /^(.+):(\d{1,5})$/.exec(address);
    const port = Number(match?.[2]);
    if (!match?.[1] || !(port > 0 && port < 65536)) {
      throw new Error(`target "${address}" is not a host:port address`);
    }
    return new Target(address, match[1].replace(/^\[(.*)\]$/, '$1'), port);
  }
}

export class Service {
  targets: Target[] = [];
  hosts: string[] = [];
  startupTimeoutMs = DEFAULT_STARTUP_TIMEOUT_MS;
  responseTimeoutMs = DEFAULT_RESPONSE_TIMEOUT_MS;
  requestTimeoutMs: number | undefined;
  targetConcurrency: number | undefined;
  maxConcurrency: number | undefined;
  maxQueued: number | undefined;
  forwardHeaders = false;
  tls = false;
  sslRedirect = false;
  /** The targets speak HTTP/2 cleartext (src/proxy/h2c/). */
  h2c = false;
  unavailableReason: string | undefined;
  /** Set when the host's requests are shared among revisions' services (spec.traffic). */
  split: WeightedSplit | undefined;
  /** Hosts that reach this service's own targets past its split (a tag of its own revision). */
  unsplitHosts: ReadonlySet<string> = new Set();
  revision: string | undefined;
  lastActivityAt: number | undefined;
  inFlight = 0;
  /** Requests waiting for a target: held (none yet) or queued (every one at maxConcurrency). */
  readonly queue: RequestQueue<Target>;
  /** Emits 'changed' on every deploy and 'removed' when the service goes, so held requests can go on. */
  readonly changes = new EventEmitter();
  private nextIndex = 0;

  constructor(
    readonly name: string,
    now: () => number = Date.now,
  ) {
    // Many held requests may wait on one service at once.
    this.changes.setMaxListeners(0);
    this.queue = new RequestQueue(now);
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** How many may wait at once: unbounded without a concurrency cap (a cold start holds them all). */
  get queueLimit(): number {
    return this.maxConcurrency === undefined ? Number.POSITIVE_INFINITY : (this.maxQueued ?? DEFAULT_MAX_QUEUED);
  }

  /**
   * Fewest in-flight requests wins, among targets below maxConcurrency; ties rotate so
   * equal targets share the load. Undefined when there is none, or every one is full.
   */
  pickTarget(): Target | undefined {
    const count = this.targets.length;
    const cap = this.maxConcurrency ?? Number.POSITIVE_INFINITY;
    let best: Target | undefined;
    let bestIndex = 0;
    for (let offset = 0; offset < count; offset++) {
      const index = (this.nextIndex + offset) % count;
      const candidate = this.targets[index];
      if (candidate && candidate.inFlight < cap && (!best || candidate.inFlight < best.inFlight)) {
        best = candidate;
        bestIndex = index;
      }
    }
    // The next pick starts after this one, so tied targets take turns evenly.
    if (best) this.nextIndex = (bestIndex + 1) % count;
    return best;
  }

  info(): ServiceInfo {
    return {
      service: this.name,
      hosts: [...this.hosts],
      targets: this.targets.map((target) => ({ address: target.address, inFlight: target.inFlight })),
      startupTimeoutMs: this.startupTimeoutMs,
      responseTimeoutMs: this.responseTimeoutMs,
      ...(this.requestTimeoutMs !== undefined ? { requestTimeoutMs: this.requestTimeoutMs } : {}),
      ...(this.targetConcurrency !== undefined ? { targetConcurrency: this.targetConcurrency } : {}),
      ...(this.maxConcurrency !== undefined ? { maxConcurrency: this.maxConcurrency, maxQueued: this.queueLimit } : {}),
      forwardHeaders: this.forwardHeaders,
      tls: this.tls,
      sslRedirect: this.sslRedirect,
      ...(this.h2c ? { h2c: true } : {}),
      ...(this.unavailableReason ? { unavailableReason: this.unavailableReason } : {}),
      ...(this.split ? { split: this.split.shares.map((share) => ({ ...share })) } : {}),
      ...(this.revision !== undefined ? { revision: this.revision } : {}),
      ...(this.unsplitHosts.size > 0 ? { unsplitHosts: [...this.unsplitHosts] } : {}),
      activity: {
        ...(this.lastActivityAt !== undefined ? { lastActivityAt: this.lastActivityAt } : {}),
        inFlight: this.inFlight,
        waiting: this.waiting,
      },
    };
  }
}

export function normalizeHost(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end > 0 ? host.slice(0, end + 1) : host;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host || undefined;
}

export class RouteTable {
  private readonly services = new Map<string, Service>();
  /** How many routes name each revision (its service's own, or a split's share). */
  private readonly revisionRoutes = new Map<string, number>();
  private readonly hostIndex = new Map<string, Service>();

  /** `now` is the clock of the services' queues (their wait times). */
  constructor(private readonly now: () => number = Date.now) {}

  lookupHost(host: string): Service | undefined {
    return this.hostIndex.get(host);
  }

  /**
   * The service that serves the next request of a split route: its own when the share
   * names it, or when the revision's service is not deployed (yet): held there, never lost.
   */
  pickShare(service: Service, split: WeightedSplit, host: string): Service {
    if (service.unsplitHosts.has(host)) return service;
    const share = split.next();
    if (share === undefined || share.service === service.name) return service;
    return this.services.get(share.service) ?? service;
  }

  get(name: string): Service | undefined {
    return this.services.get(name);
  }

  all(): Service[] {
    return [...this.services.values()];
  }

  /** Whether some route names `revision`: as the revision a service serves, or in a split. */
  routesRevision(revision: string): boolean {
    return this.revisionRoutes.has(revision);
  }

  /**
   * Counts the routes naming each revision as services change, so the question above costs
   * one lookup: with 10,000 services a scan of them on every deploy made deploys quadratic.
   */
  private countRevisions(service: Service, step: 1 | -1): void {
    const named = [
      ...(service.revision !== undefined ? [service.revision] : []),
      ...(service.split?.shares ?? []).map((share) => share.revision),
    ];
    for (const revision of named) {
      const count = (this.revisionRoutes.get(revision) ?? 0) + step;
      if (count > 0) this.revisionRoutes.set(revision, count);
      else this.revisionRoutes.delete(revision);
    }
  }

  /**
   * Throws what apply() would throw, changing nothing; returns the targets that would be new.
   * Hosts are judged as they stand after the deploy and every move together.
   */
  check(request: DeployRequest, moves: readonly HostMove[] = []): string[] {
    const changing = new Set([request.service]);
    for (const move of moves) {
      if (changing.has(move.service)) throw new Error(`service "${move.service}" appears twice in one deploy`);
      if (!this.services.has(move.service)) throw new UnknownServiceError(move.service);
      changing.add(move.service);
    }
    const claimed = new Map<string, string>();
    for (const { service, hosts } of [request, ...moves]) {
      for (const host of hosts) this.checkClaim(host, service, changing, claimed);
    }
    for (const address of request.targets) Target.parse(address);
    if (request.split !== undefined && request.split.length > 0) checkShares(request.split);
    const current = new Set(this.services.get(request.service)?.targets.map((target) => target.address));
    return request.targets.filter((address) => !current.has(address));
  }

  /** A host may go to `service` if nobody else in this change claims it and its holder is changing too. */
  private checkClaim(host: string, service: string, changing: ReadonlySet<string>, claimed: Map<string, string>): void {
    const normalized = normalizeHost(host);
    if (!normalized) throw new Error(`host "${host}" is not a host name`);
    const rival = claimed.get(normalized);
    if (rival !== undefined && rival !== service) throw new HostConflictError(host, rival);
    const owner = this.hostIndex.get(normalized);
    if (owner && owner.name !== service && !changing.has(owner.name)) throw new HostConflictError(host, owner.name);
    claimed.set(normalized, service);
  }

  /**
   * Applies a deploy, with the host moves of other services in the same step, and returns
   * the targets it removed (still possibly in use).
   */
  apply(request: DeployRequest, moves: readonly HostMove[] = []): { service: Service; removed: Target[] } {
    // Check everything before changing anything, so a bad deploy changes nothing.
    this.check(request, moves);
    const parsed = request.targets.map((address) => Target.parse(address));

    let service = this.services.get(request.service);
    if (!service) {
      service = new Service(request.service, this.now);
      this.services.set(service.name, service);
    }
    this.countRevisions(service, -1);
    const moved = moves.map((move) => ({ service: this.services.get(move.service) as Service, hosts: move.hosts }));
    this.assignHosts([{ service, hosts: request.hosts }, ...moved]);

    const existing = new Map(service.targets.map((target) => [target.address, target]));
    // Keep the live Target objects so their in-flight counts stay accurate.
    service.targets = parsed.map((target) => existing.get(target.address) ?? target);
    const kept = new Set(service.targets);
    const removed = [...existing.values()].filter((target) => !kept.has(target));

    service.startupTimeoutMs = request.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
    // A request timeout alone governs the wait for the answer's head too (a long poll within it is not cut).
    service.responseTimeoutMs = request.responseTimeoutMs ?? request.requestTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
    service.requestTimeoutMs = request.requestTimeoutMs;
    service.targetConcurrency = request.targetConcurrency;
    service.maxConcurrency = request.maxConcurrency;
    service.maxQueued = request.maxQueued;
    service.forwardHeaders = request.forwardHeaders ?? false;
    service.tls = request.tls ?? false;
    service.sslRedirect = request.sslRedirect ?? false;
    service.h2c = request.h2c ?? false;
    service.unavailableReason = request.unavailableReason;
    // Absent, both are kept: a deploy that only changes targets (a resume, a drain) keeps the split.
    if (request.revision !== undefined) service.revision = request.revision;
    if (request.split !== undefined)
      service.unsplitHosts = new Set((request.unsplitHosts ?? []).map((h) => normalizeHost(h) ?? h));
    // A new split only when the shares change: an unchanged one keeps its rotation. [] ends it.
    if (request.split !== undefined && !sameShares(service.split?.shares, request.split))
      service.split =
        request.split.length > 0 ? new WeightedSplit(request.split.map((share) => ({ ...share }))) : undefined;
    this.countRevisions(service, 1);
    service.changes.emit('changed');
    return { service, removed };
  }

  /** Every old host is let go before any new one is taken, so a swap never unindexes its own result. */
  private assignHosts(assignments: { service: Service; hosts: string[] }[]): void {
    for (const { service } of assignments) for (const host of service.hosts) this.hostIndex.delete(host);
    for (const assignment of assignments) {
      // Deployed hosts are normalised exactly like request Host headers, or they could never match.
      assignment.service.hosts = [...new Set(assignment.hosts.map((host) => normalizeHost(host) ?? host))];
      for (const host of assignment.service.hosts) this.hostIndex.set(host, assignment.service);
    }
  }

  remove(name: string): Service | undefined {
    const service = this.services.get(name);
    if (!service) return undefined;
    for (const host of service.hosts) this.hostIndex.delete(host);
    this.services.delete(name);
    this.countRevisions(service, -1);
    service.changes.emit('removed');
    return service;
  }
}

function sameShares(a: readonly SplitShare[] | undefined, b: readonly SplitShare[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.length === b.length &&
    a.every(
      (share, i) =>
        share.service === b[i]?.service && share.revision === b[i]?.revision && share.weight === b[i]?.weight,
    )
  );
}
