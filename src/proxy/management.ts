// The proxy's management interface (SPEC §3). Clients (the controller, the CLI's client
// mode) drive the proxy only through this; in `luma up` it is called in-process, and the
// proxy daemon will serve the same messages over its Unix socket.

import type { SplitShare } from './traffic-split.js';

export type { SplitShare } from './traffic-split.js';
import type { OutcomeCounts } from './revision-outcomes.js';

export type { OutcomeCounts } from './revision-outcomes.js';

export interface DeployRequest {
  service: string;
  /** Host headers routed to this service (unique across services). */
  hosts: string[];
  /** `host:port` addresses; an empty list means scaled to zero: requests are held and the service is woken. */
  targets: string[];
  /** How long a held request waits for a target before a 503. */
  startupTimeoutMs?: number;
  /**
   * When set and there are no targets, requests are answered at once with 503 and this
   * reason instead of being held (an image that is not ready, a crash loop).
   */
  unavailableReason?: string;
  /** In-flight requests per target above which the proxy asks its controller to look again (scale up). */
  targetConcurrency?: number;
  /** How long to wait for the target's response headers before a 504 (default: requestTimeoutMs if set, else 30 s). */
  responseTimeoutMs?: number;
  /**
   * The longest a request may take, from its arrival (hold and queue included) to its
   * answer's last byte: past it, 504, or the connection is cut if the answer has begun.
   * Absent: no whole-request deadline.
   */
  requestTimeoutMs?: number;
  /** A hard cap of in-flight requests per target; requests beyond every target's cap queue. Absent: no cap. */
  maxConcurrency?: number;
  /** Requests that may wait (held or queued) when maxConcurrency is set; more get 429. Default 1000. */
  maxQueued?: number;
  /** Trust X-Forwarded-* from the client (a proxy in front of this one) instead of overwriting them. */
  forwardHeaders?: boolean;
  /** Serve the hosts over HTTPS (used by the TLS listener). */
  tls?: boolean;
  /** Redirect plain HTTP to HTTPS. */
  sslRedirect?: boolean;
  /** The targets speak HTTP/2 cleartext with prior knowledge (h2c), not HTTP/1.1: gRPC and the like. */
  h2c?: boolean;
  /**
   * When set, every new target must answer this check before traffic moves to it; if one
   * fails, the deploy is refused and the service keeps its old targets.
   */
  healthCheck?: HealthCheck;
  /**
   * The project's requests shared by weight among the services of its revisions (spec.traffic):
   * a share naming this very service goes to its own targets. An empty list: no split, its
   * own targets serve all. Absent: the service keeps the split it has (a deploy that only
   * changes targets, such as a resume or a drain, leaves the split alone).
   */
  split?: SplitShare[];
  /** The revision this service's targets run: the `revision` of its logs and request records. Absent: kept. */
  revision?: string;
  /** Hosts (among `hosts`) that reach this service's own targets only, past any split: a tag of its revision. */
  unsplitHosts?: string[];
}

/**
 * Another service's new host list, applied in the same step as a deploy: how names move
 * between services (a swap, a rotation) without the route table ever holding one name
 * twice, and without a moment when a moved name routes nowhere. Only the hosts change;
 * the service keeps its targets and settings. An empty list leaves it reachable by none.
 */
export interface HostMove {
  service: string;
  hosts: string[];
}

export interface HealthCheck {
  /** HTTP GET path; any answer below 500 passes. */
  path: string;
  timeoutMs: number;
}

export interface ActivitySnapshot {
  /** Epoch ms of the last request arrival or completion; undefined if none yet. */
  lastActivityAt?: number;
  /** Requests being forwarded right now. */
  inFlight: number;
  /** Requests held while the service has no target, or queued while every target is at maxConcurrency. */
  waiting: number;
}

export interface TargetInfo {
  address: string;
  inFlight: number;
}

export interface ServiceInfo {
  service: string;
  hosts: string[];
  targets: TargetInfo[];
  startupTimeoutMs: number;
  responseTimeoutMs: number;
  requestTimeoutMs?: number;
  targetConcurrency?: number;
  maxConcurrency?: number;
  maxQueued?: number;
  forwardHeaders: boolean;
  tls: boolean;
  sslRedirect: boolean;
  /** Present when the targets speak h2c. */
  h2c?: boolean;
  unavailableReason?: string;
  split?: SplitShare[];
  revision?: string;
  unsplitHosts?: string[];
  activity: ActivitySnapshot;
  /** One entry per host when the service is served over HTTPS (`tls`) by a proxy with an HTTPS listener. */
  certificates?: CertificateStatus[];
}

/**
 * Where a host's certificate stands. `Ready` while a valid certificate is served (a failed
 * renewal keeps it Ready, with the failure in the message); `Pending` before the first
 * one; `Failed` when obtaining it failed and nothing valid can be served.
 */
export interface CertificateStatus {
  host: string;
  state: 'Ready' | 'Pending' | 'Failed';
  /** CamelCase, like a condition's reason. */
  reason: string;
  message: string;
  /** ISO time the served certificate expires. */
  notAfter?: string;
  /** `acme` (issued and renewed by the proxy) or `provided` (the operator's files). */
  source?: 'acme' | 'provided';
}

export const GLOBAL_OPTIONS = ['lets-encrypt-email'] as const;
export type GlobalOption = (typeof GLOBAL_OPTIONS)[number];

export interface ProxyManagement {
  /**
   * Creates or updates a service. Resolves once targets this deploy removed have no
   * request in flight any more (bounded by the drain timeout), so a caller may then
   * stop them safely.
   */
  deploy(request: DeployRequest): Promise<void>;
  /**
   * A deploy and the host moves of other (existing) services at once, or nothing at all:
   * the hosts are judged as they stand after every change, so the deploy may take a host
   * that a move gives up. A plain deploy() still refuses a host another service holds.
   */
  deployMovingHosts(request: DeployRequest, moves: readonly HostMove[]): Promise<void>;
  remove(service: string): Promise<void>;
  getService(service: string): Promise<ServiceInfo | undefined>;
  listServices(): Promise<ServiceInfo[]>;
  setGlobalOption(option: GlobalOption, value: string): Promise<void>;
  /**
   * Opens a connection to `target` (host:port) ahead of its deploy and keeps it for the
   * request that comes next: a paused container's port accepts connections while its
   * processes are frozen, so connecting overlaps its unpause. Routes nothing; a connection
   * that is never used is closed after the pool's idle time.
   */
  preconnect(target: string): Promise<void>;
  /**
   * How each revision's requests ended since the proxy started (requests, 5xx, latency
   * buckets), by revision name: what a rollout judges its candidate by.
   */
  revisionOutcomes(): Promise<Record<string, OutcomeCounts>>;
}

/** What the proxy asks of its controller. */
export interface ProxyHooks {
  /** A request is waiting for a service that has no target: start one. `requestId` names the request that asked first (for logs). */
  wake(service: string, requestId?: string): void;
  /** A certificate of the service's hosts changed state (issued, renewed, failed): look again. */
  certificateChanged?(service: string): void;
}

export class HostConflictError extends Error {
  readonly code = 'HostConflict';
  constructor(
    readonly host: string,
    readonly owner: string,
  ) {
    super(`host "${host}" is already routed to service "${owner}"`);
    this.name = 'HostConflictError';
  }
}

export class HealthCheckFailedError extends Error {
  readonly code = 'HealthCheckFailed';
  constructor(
    readonly service: string,
    readonly target: string,
    detail: string,
  ) {
    super(
      `deploy of ${service} refused: target ${target} failed its health check (${detail}); the service keeps its previous targets`,
    );
    this.name = 'HealthCheckFailedError';
  }
}

export class UnknownServiceError extends Error {
  readonly code = 'UnknownService';
  constructor(readonly service: string) {
    super(`no service named "${service}"`);
    this.name = 'UnknownServiceError';
  }
}
