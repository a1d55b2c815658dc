import http, { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import { waitUntilReady } from '../util/readiness-probe.js';
import type { ClientExchange, ForwardOptions } from './exchange.js';
import { Forwarder } from './forwarder.js';
import { H2cSessions } from './h2c/session-pool.js';
import { NO_PROXY_METRICS, type ProxyMetrics } from '../metrics/proxy-metrics.js';
import { FastConnection, type FastConnectionOptions, type FastPathHost } from './http1/fast-connection.js';
import { Deadlines } from './http1/deadlines.js';
import { UpstreamPool } from './http1/upstream-pool.js';
import {
  HealthCheckFailedError,
  UnknownServiceError,
  type DeployRequest,
  type GlobalOption,
  type HostMove,
  type OutcomeCounts,
  type ProxyHooks,
  type ProxyManagement,
  type ServiceInfo,
} from './management.js';
import { AnswersInFlight } from './answers-in-flight.js';
import { RevisionOutcomes } from './revision-outcomes.js';
import { NodeExchange } from './node-exchange.js';
import { Http2Exchange } from './tls/http2-exchange.js';
import { respond, serializeAnswer, type ProxyAnswer } from './responses.js';
import { BodyProgressWatch, bodyProgressOf } from './body-progress.js';
import { answerClientError } from './client-error.js';
import { ConnectionCap } from './connection-cap.js';
import { RequestDeadline } from './request-deadline.js';
import { normalizeHost, RouteTable, Target, type Service } from './route-table.js';
import { RouteStateFile, type RouteState } from './route-state.js';
import { setSocketOptions } from './socket-options.js';
import { forwardUpgrade } from './websocket.js';
import { traceWake } from '../util/wake-trace.js';

// The edge proxy: routes by Host, holds requests for services that have no target while
// asking its controller to wake them, and records activity. It knows nothing of Docker.

export const HEALTH_PATH = '/luma-proxy-health';
export const PROXY_DEFAULTS = {
  drainTimeoutMs: 30_000,
  // The deadlines of a client connection, stage by stage, on both public listeners
  // (documented in docs/proxy.md, each with a flag of `luma proxy run` and `luma up`).
  /** Slow clients get this long to send a request head (slowloris), and to finish a TLS handshake. */
  headersTimeoutMs: 30_000,
  /** A request body that stops arriving is cut off after this long without a byte; not a total. */
  bodyTimeoutMs: 30_000,
  /** A client that takes no byte of its response for this long is cut off (nginx's send_timeout); not a total. */
  sendTimeoutMs: 60_000,
  /** An HTTP/1.1 connection with no request under way is closed after this long. */
  keepAliveTimeoutMs: 65_000,
  /** An app has this long to answer an Upgrade (WebSocket) request; then 504. */
  upgradeTimeoutMs: 30_000,
  /** An HTTP/2 session with no stream open is closed (GOAWAY) after this long. */
  http2IdleTimeoutMs: 120_000,
  /** Open client connections across both listeners; more are closed as soon as they are accepted. */
  maxConnections: 10_000,
  /** Larger request heads get 431. */
  maxHeaderBytes: 16 * 1024,
  /** A held request re-asks for a wake this often, in case the first ask was lost. */
  rewakeIntervalMs: 1_000,
  /** At most one scale-up hint per service this often. */
  scaleHintIntervalMs: 100,
  maxRefusedRetries: 3,
} as const;

/** The deadlines and the connection cap that bound what a client can hold (see PROXY_DEFAULTS). */
export interface ClientLimits {
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  sendTimeoutMs: number;
  keepAliveTimeoutMs: number;
  upgradeTimeoutMs: number;
  http2IdleTimeoutMs: number;
  maxConnections: number;
}

const CLIENT_LIMIT_NAMES = [
  'headersTimeoutMs',
  'bodyTimeoutMs',
  'sendTimeoutMs',
  'keepAliveTimeoutMs',
  'upgradeTimeoutMs',
  'http2IdleTimeoutMs',
  'maxConnections',
] as const;

/** The limits given, with PROXY_DEFAULTS for the rest. */
export function clientLimits(given: Partial<ClientLimits>): ClientLimits {
  const limits = {} as ClientLimits;
  for (const name of CLIENT_LIMIT_NAMES) limits[name] = given[name] ?? PROXY_DEFAULTS[name];
  return limits;
}

/** node:http checks its headers timeout only this often (30 s by default): a quarter of it, within bounds. */
export function connectionsCheckingIntervalFor(headersTimeoutMs: number): number {
  return Math.max(100, Math.min(1_000, Math.floor(headersTimeoutMs / 4)));
}
const DRAIN_POLL_MS = 5;
/** nginx's status for "the client closed the connection first", as logged and recorded. */
const CLIENT_CLOSED = 499;

function isConnectionRefused(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === 'ECONNREFUSED';
}

export interface ProxyServerOptions extends Partial<ClientLimits> {
  hooks?: ProxyHooks;
  drainTimeoutMs?: number;
  logger?: Logger;
  now?: () => number;
  /** Where the route table is kept; routes are restored from it by restore(). */
  stateFile?: string;
  /**
   * HTTP/1.1 requests, plain and over TLS, are parsed and forwarded by the proxy itself, on
   * the sockets (src/proxy/http1/); false sends every HTTP/1.1 connection through node:http
   * and undici. Default true.
   */
  fastPath?: boolean;
  /** Called once for every request routed (not the health path) when it ends. */
  onRequestEnd?: (record: RequestRecord) => void;
  /** Requests, holds and wake timeouts are counted here; nothing is when absent. */
  metrics?: ProxyMetrics;
}

/** What a request intercept sees of a request, whichever path parsed it. */
export interface InterceptedRequest {
  url: string;
  hostHeader: string | undefined;
  /** Arrived over TLS (the HTTPS listener), not plain HTTP. */
  encrypted: boolean;
}
/** Answers a request before it is routed (TLS: ACME challenges, HTTPS redirects); undefined lets it through. */
export type RequestIntercept = (request: InterceptedRequest) => ProxyAnswer | undefined;
/** A request as recorded when it ends, whichever path carried it. */
export interface RequestRecord {
  /** The service it was routed to; undefined when no service matched its Host. */
  service: string | undefined;
  /** The revision whose instance answered, when the route says (a project's routes do). */
  revision?: string;
  method: string;
  /** Which path parsed it: the fast path, or node:http. */
  via: 'fast' | 'node';
  /** The status the client got: 499 when the client went away first. */
  status: number;
  durationMs: number;
}

/** Where a request went: the service (and revision) that answered, and the status. */
interface Routed {
  service: string | undefined;
  revision: string | undefined;
  status: number;
}

type HoldOutcome =
  | { kind: 'target'; target: Target }
  | { kind: 'timeout' }
  /** The request's whole deadline passed while it waited. */
  | { kind: 'deadline' }
  | { kind: 'full' }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'removed' }
  | { kind: 'aborted' };

export class ProxyServer implements ProxyManagement {
  private readonly routes = new RouteTable(() => this.now());
  /** The fast path's per-connection deadlines and every request's whole deadline (spec.timeout). */
  private readonly deadlines = new Deadlines();
  private readonly forwarder = new Forwarder();
  /** Sessions to the targets of services that speak h2c (spec.http2). */
  private readonly h2cSessions = new H2cSessions();
  private readonly upstreamPool: UpstreamPool;
  private readonly fastConnections = new Set<FastConnection>();
  private readonly fastPath: boolean;
  /** The fast path's deadlines and limits, one set for both listeners. */
  private fastOptions: FastConnectionOptions | undefined;
  private readonly onRequestEnd: ((record: RequestRecord) => void) | undefined;
  private readonly metrics: ProxyMetrics;
  /** When each held request began to wait, for the time to its first byte. */
  private readonly heldSince = new WeakMap<ClientExchange, number>();
  private readonly rewakeTimers = new Map<string, NodeJS.Timeout>();
  private readonly lastScaleHint = new Map<string, number>();
  private readonly globals = new Map<GlobalOption, string>();
  private readonly upgradedSockets = new Set<Duplex>();
  private readonly answersInFlight = new AnswersInFlight();
  /** Each revision's answers, for the rollouts the controller judges. */
  private readonly outcomes = new RevisionOutcomes();
  private readonly stateFile: RouteStateFile | undefined;
  private hooks: ProxyHooks | undefined;
  private intercept: RequestIntercept | undefined;
  private readonly drainTimeoutMs: number;
  /** The deadlines and connection cap of both public listeners (the HTTPS one reads them here). */
  readonly limits: ClientLimits;
  /** One count of open client connections for both listeners. */
  readonly connectionCap: ConnectionCap;
  private readonly bodyWatch: BodyProgressWatch;
  private readonly logger: Logger;
  private readonly now: () => number;
  private server: Server | undefined;
  private activeRequests = 0;
  private closing = false;

  constructor(options: ProxyServerOptions = {}) {
    this.hooks = options.hooks;
    this.drainTimeoutMs = options.drainTimeoutMs ?? PROXY_DEFAULTS.drainTimeoutMs;
    this.limits = clientLimits(options);
    this.logger = options.logger ?? silentLogger();
    this.connectionCap = new ConnectionCap(this.limits.maxConnections, (refused) =>
      this.logger.warn(
        { refused, maxConnections: this.limits.maxConnections },
        'connections refused: the cap on open client connections is reached',
      ),
    );
    this.bodyWatch = new BodyProgressWatch(this.limits.bodyTimeoutMs);
    this.now = options.now ?? Date.now;
    this.stateFile = options.stateFile ? new RouteStateFile(options.stateFile) : undefined;
    this.fastPath = options.fastPath ?? true;
    this.onRequestEnd = options.onRequestEnd;
    this.metrics = options.metrics ?? NO_PROXY_METRICS;
    this.upstreamPool = new UpstreamPool(this.now);
  }

  setHooks(hooks: ProxyHooks | undefined): void {
    this.hooks = hooks;
  }

  setIntercept(intercept: RequestIntercept | undefined): void {
    this.intercept = intercept;
  }

  /** Restores the routes saved by an earlier run. */
  async restore(): Promise<number> {
    const state = await this.stateFile?.load();
    if (!state) return 0;
    for (const [option, value] of Object.entries(state.globals)) this.globals.set(option as GlobalOption, value);
    for (const service of state.services) {
      try {
        this.routes.apply(service);
      } catch (error) {
        this.logger.error(
          { service: service.service, err: (error as Error).message },
          'could not restore a saved route',
        );
      }
    }
    return state.services.length;
  }

  // ---------- management interface ----------

  deploy(request: DeployRequest): Promise<void> {
    return this.deployMovingHosts(request, []);
  }

  async deployMovingHosts(request: DeployRequest, moves: readonly HostMove[]): Promise<void> {
    traceWake('proxy-deploy', request.service);
    const newTargets = this.routes.check(request, moves);
    const { healthCheck } = request;
    if (healthCheck) {
      // The transaction: traffic moves only once every new target answers.
      await Promise.all(
        newTargets.map(async (address) => {
          const separator = address.lastIndexOf(':');
          try {
            await waitUntilReady(
              address.slice(0, separator).replace(/^\[(.*)\]$/, '$1'),
              Number(address.slice(separator + 1)),
              { type: request.h2c ? 'h2c' : 'http', path: healthCheck.path },
              healthCheck.timeoutMs,
            );
          } catch (error) {
            throw new HealthCheckFailedError(request.service, address, (error as Error).message);
          }
        }),
      );
    }
    const { service, removed } = this.routes.apply(request, moves);
    this.outcomes.keepOnly((revision) => this.routes.routesRevision(revision));
    traceWake('proxy-route-applied', service.name);
    this.metrics.serviceDeployed(service.name);
    await this.persist();
    this.dispatchWaiting(service);
    if (service.targets.length === 0 && service.waiting > 0 && !service.unavailableReason) this.wake(service);
    await Promise.all(removed.map((target) => this.drain(target)));
  }

  async remove(name: string): Promise<void> {
    const service = this.routes.remove(name);
    if (!service) throw new UnknownServiceError(name);
    this.outcomes.keepOnly((revision) => this.routes.routesRevision(revision));
    this.stopRewake(name);
    this.metrics.serviceRemoved(name);
    await this.persist();
    await Promise.all(service.targets.map((target) => this.drain(target)));
  }

  async getService(name: string): Promise<ServiceInfo | undefined> {
    return this.routes.get(name)?.info();
  }

  async revisionOutcomes(): Promise<Record<string, OutcomeCounts>> {
    return this.outcomes.snapshot();
  }

  async listServices(): Promise<ServiceInfo[]> {
    return this.routes.all().map((service) => service.info());
  }

  async setGlobalOption(option: GlobalOption, value: string): Promise<void> {
    this.globals.set(option, value);
    await this.persist();
  }

  async preconnect(target: string): Promise<void> {
    const parsed = Target.parse(target);
    // Only the fast path keeps connections of its own; node:http requests reach targets through undici.
    if (this.fastPath) this.upstreamPool.warm(parsed);
  }

  globalOption(option: GlobalOption): string | undefined {
    return this.globals.get(option);
  }

  private async persist(): Promise<void> {
    if (!this.stateFile) return;
    const state: RouteState = {
      services: this.routes.all().map((service) => ({
        service: service.name,
        hosts: service.hosts,
        targets: service.targets.map((target) => target.address),
        startupTimeoutMs: service.startupTimeoutMs,
        responseTimeoutMs: service.responseTimeoutMs,
        ...(service.requestTimeoutMs !== undefined ? { requestTimeoutMs: service.requestTimeoutMs } : {}),
        ...(service.maxConcurrency !== undefined
          ? { maxConcurrency: service.maxConcurrency, maxQueued: service.queueLimit }
          : {}),
        forwardHeaders: service.forwardHeaders,
        tls: service.tls,
        sslRedirect: service.sslRedirect,
        ...(service.h2c ? { h2c: true } : {}),
        ...(service.targetConcurrency !== undefined ? { targetConcurrency: service.targetConcurrency } : {}),
        ...(service.unavailableReason ? { unavailableReason: service.unavailableReason } : {}),
        ...(service.split ? { split: [...service.split.shares], unsplitHosts: [...service.unsplitHosts] } : {}),
        ...(service.revision !== undefined ? { revision: service.revision } : {}),
      })),
      globals: Object.fromEntries(this.globals),
    };
    await this.stateFile.save(state);
  }

  // ---------- traffic ----------

  async listen(host: string, port: number): Promise<AddressInfo> {
    // requireHostHeader off: the health path must answer without Host, and route() answers
    // a missing Host itself, with a body that says so.
    // Node looks for connections past the headers timeout only every connectionsCheckingInterval
    // (30 s by default): a slowloris head would live up to that much longer than the timeout.
    const checkingIntervalMs = connectionsCheckingIntervalFor(this.limits.headersTimeoutMs);
    const server = http.createServer(
      {
        maxHeaderSize: PROXY_DEFAULTS.maxHeaderBytes,
        requireHostHeader: false,
        connectionsCheckingInterval: checkingIntervalMs,
      },
      (req, res) => {
        void this.handle(req, res);
      },
    );
    server.headersTimeout = this.limits.headersTimeoutMs;
    // Long uploads, downloads and event streams are bounded by progress and response timeouts, not a total.
    server.requestTimeout = 0;
    server.keepAliveTimeout = this.limits.keepAliveTimeoutMs;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.handleUpgrade(req, socket, head);
    });
    server.on('clientError', answerClientError);
    if (this.fastPath) this.takeConnections(server);
    server.on('connection', setSocketOptions);
    // Last, so that every other 'connection' listener sees only the connections it admits.
    this.connectionCap.guard(server);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /**
   * Puts the fast path in front of node:http: every accepted connection starts on the
   * fast path, and node:http's own connection handling (its parser, timeouts, 408 and 431
   * answers, upgrades) takes over a connection the moment the fast path hands it over.
   */
  private takeConnections(server: Server): void {
    const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    const fast = this.fastPathListener((socket) => {
      for (const listener of nodeListeners) listener.call(server, socket);
    });
    if (fast) server.on('connection', fast);
  }

  /**
   * A listener that serves a connection's HTTP/1.1 on the fast path and hands it to
   * `fallback` (node:http's own connection listener) at the first request the fast path
   * does not take; undefined when the fast path is off. Both public listeners use it: the
   * plain one for every connection, the HTTPS one for those that chose HTTP/1.1.
   */
  fastPathListener(fallback: (socket: Socket) => void): ((socket: Socket) => void) | undefined {
    if (!this.fastPath) return undefined;
    const host: FastPathHost = {
      isClosing: () => this.closing,
      serve: (exchange) => this.serve(exchange),
      handOff: (socket, received) => {
        // The unused bytes go back in front of the socket's stream, where node:http reads them first.
        if (received) socket.unshift(received);
        fallback(socket);
        if (socket.isPaused()) socket.resume();
      },
      connectionClosed: (connection) => this.fastConnections.delete(connection),
      // An h2c service's requests are translated by node:http's path (src/proxy/h2c/).
      prefersNode: (head) => this.routes.lookupHost(normalizeHost(head.host) ?? '')?.h2c === true,
    };
    const options = this.fastConnectionOptions();
    return (socket: Socket) => {
      this.fastConnections.add(new FastConnection(socket, host, options));
    };
  }

  private fastConnectionOptions(): FastConnectionOptions {
    this.fastOptions ??= {
      maxHeadBytes: PROXY_DEFAULTS.maxHeaderBytes,
      keepAliveTimeoutMs: this.limits.keepAliveTimeoutMs,
      firstRequestTimeoutMs: Math.min(this.limits.headersTimeoutMs, this.limits.keepAliveTimeoutMs),
      bodyTimeoutMs: this.limits.bodyTimeoutMs,
      sendTimeoutMs: this.limits.sendTimeoutMs,
      pool: this.upstreamPool,
      deadlines: this.deadlines,
    };
    return this.fastOptions;
  }

  /** Stops accepting, lets in-flight requests finish (up to the drain timeout), then closes everything. */
  async close(): Promise<void> {
    this.closing = true;
    for (const name of this.rewakeTimers.keys()) this.stopRewake(name);
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      for (const connection of [...this.fastConnections]) connection.closeIfIdle();
      const deadline = this.now() + this.drainTimeoutMs;
      while (this.activeRequests > 0 && this.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      server.closeAllConnections();
      for (const connection of [...this.fastConnections]) connection.destroy();
      for (const socket of this.upgradedSockets) socket.destroy();
      await closed;
    }
    this.bodyWatch.stop();
    this.forwarder.close();
    this.h2cSessions.close();
    this.upstreamPool.close();
  }

  /** A request that node:http parsed (the fast path handed its connection over). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.closing) res.setHeader('connection', 'close');
    this.answersInFlight.track(req.socket, res);
    const body = bodyProgressOf(req);
    if (body) this.bodyWatch.watch(body);
    await this.serve(new NodeExchange(req, res, this.forwarder));
  }

  /** An HTTP/2 stream from the HTTPS listener, served without node:http2's compatibility objects. */
  async handleHttp2Stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const exchange = new Http2Exchange(stream, headers, this.upstreamPool);
    const body = exchange.bodyProgress();
    if (body) this.bodyWatch.watch(body);
    await this.serve(exchange);
  }

  /** Every request, from either path, starts and ends here: the one place that records it. */
  async serve(exchange: ClientExchange): Promise<void> {
    if (exchange.url === HEALTH_PATH) {
      exchange.answer(respond.health());
      return;
    }
    if (this.answeredByIntercept(exchange)) return;
    this.activeRequests++;
    const started = this.now();
    try {
      const { service, revision, status } = await this.route(exchange);
      this.requestEnded({
        service,
        ...(revision !== undefined ? { revision } : {}),
        method: exchange.method,
        via: exchange.via,
        status,
        durationMs: this.now() - started,
      });
    } finally {
      this.activeRequests--;
    }
  }

  /** Gives the TLS layer its say before routing (an ACME challenge, a 301 to HTTPS); true when it answered. */
  private answeredByIntercept(exchange: ClientExchange): boolean {
    const intercepted = this.intercept?.({
      url: exchange.url,
      hostHeader: exchange.hostHeader,
      encrypted: exchange.encrypted,
    });
    if (intercepted) exchange.answer(intercepted);
    return intercepted !== undefined;
  }

  private requestEnded(record: RequestRecord): void {
    // Only routed requests: unknown hosts would make the project label unbounded.
    if (record.service !== undefined)
      this.metrics.requestFinished(record.service, record.status, record.durationMs / 1000, record.revision);
    if (record.revision !== undefined) this.outcomes.record(record.revision, record.status, record.durationMs);
    this.onRequestEnd?.(record);
  }

  /**
   * The service the request's host routes to, its activity marked; or the status of the
   * answer given instead (400 without a usable Host, 404 for an unknown host). Requests
   * and upgrades are looked up here alike.
   */
  private lookup(exchange: ClientExchange): { service: Service; host: string } | { status: number } {
    const target = exchange.resolveTarget();
    if (!target.ok)
      return {
        status: this.answer(exchange, target.missingHost ? respond.missingHost() : respond.badRequest(target.reason)),
      };
    const { host } = target;
    const routed = this.routes.lookupHost(host);
    if (!routed) return { status: this.answer(exchange, respond.unknownHost(host)) };
    // One revision (no split) costs this one check; a split picks the revision's service,
    // whose activity, holds and wakes are then its own.
    const split = routed.split;
    const service = split === undefined ? routed : this.routes.pickShare(routed, split, host);
    service.lastActivityAt = this.now();
    return { service, host };
  }

  /**
   * A slot on the least busy target with room (maxConcurrency), counted in flight at once
   * (drains, scaling and the cap read it) so that no other request takes the same slot.
   * Requests already waiting go first: a new one gets nothing while any waits.
   */
  private claim(service: Service): Target | undefined {
    if (service.waiting > 0) return undefined;
    return this.claimNow(service);
  }

  private claimNow(service: Service): Target | undefined {
    const target = service.pickTarget();
    if (target) {
      service.inFlight++;
      target.inFlight++;
    }
    return target;
  }

  /** Runs `work` on a claimed slot, then gives the slot back (to the first waiting request) and marks activity. */
  private async inFlight<T>(service: Service, target: Target, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } finally {
      service.inFlight--;
      target.inFlight--;
      service.lastActivityAt = this.now();
      this.dispatchWaiting(service);
    }
  }

  /** Hands free slots to waiting requests, longest waiting first. */
  private dispatchWaiting(service: Service): void {
    // Each waiter served reports the queue's new length as it leaves (holdUntilTarget).
    if (service.waiting > 0) service.queue.dispatch(() => this.claimNow(service));
  }

  private async route(exchange: ClientExchange): Promise<Routed> {
    const found = this.lookup(exchange);
    if ('status' in found) return { service: undefined, revision: undefined, status: found.status };
    const { service, host } = found;
    // The whole-request deadline (spec.timeout) runs from here, hold and queue included.
    const deadline = service.requestTimeoutMs !== undefined ? new RequestDeadline(service.requestTimeoutMs) : undefined;
    deadline?.start(this.deadlines);
    try {
      const status = await this.routeTo(service, host, exchange, deadline);
      return { service: service.name, revision: service.revision, status };
    } finally {
      deadline?.cancel();
    }
  }

  private async routeTo(
    service: Service,
    host: string,
    exchange: ClientExchange,
    deadline: RequestDeadline | undefined,
  ): Promise<number> {
    // A target that refuses connections (its container died) is dropped and the request
    // is held for the next one; only requests without a body, so nothing is sent twice.
    for (let attempt = 0; ; attempt++) {
      // A free slot is taken at once; only a request that must wait pays for the await.
      const acquired = this.claim(service) ?? (await this.acquireTarget(service, host, exchange, deadline));
      if (typeof acquired === 'number') return acquired;
      const mayRetry = attempt < PROXY_DEFAULTS.maxRefusedRetries && !exchange.hasBody;
      const outcome = await this.forwardTo(service, acquired, exchange, mayRetry, deadline);
      if (outcome !== 'refused') return outcome;
      service.targets = service.targets.filter((candidate) => candidate !== acquired);
      this.logger.warn(
        { service: service.name, target: acquired.address },
        'target refused the connection; dropped it; the request waits for the next one',
      );
    }
  }

  /** Writes one of the proxy's own answers and returns its status. */
  private answer(exchange: ClientExchange, value: ProxyAnswer): number {
    exchange.answer(value);
    return value.status;
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Node stops watching a socket once it hands it over for an upgrade: without this, a
    // client resetting the connection would be an uncaught error that ends the process.
    socket.on('error', () => socket.destroy());
    this.upgradedSockets.add(socket);
    try {
      // Pipelined behind requests still being answered: their answers go out first.
      await this.answersInFlight.settled(socket);
      if (socket.destroyed) return;
      await this.upgrade(req, socket, head);
    } catch (error) {
      // Whatever else goes wrong, the connection is cut rather than left open and
      // untracked, and the error never becomes an unhandled rejection.
      this.logger.warn({ err: (error as Error).message }, 'upgrade failed; connection closed');
      socket.destroy();
    } finally {
      this.upgradedSockets.delete(socket);
    }
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Answers made before the upgrade (404, 503...) are written through a ServerResponse on
    // the raw socket, which is then closed: the connection cannot be reused.
    const res = new ServerResponse(req);
    res.assignSocket(socket as Parameters<ServerResponse['assignSocket']>[0]);
    res.shouldKeepAlive = false;
    // Closed for good once the answer is out: a client that keeps its side open (or goes on
    // writing) must not hold a socket the proxy stops tracking when this upgrade returns.
    res.on('finish', () => socket.end(() => socket.destroy()));
    const exchange = new NodeExchange(req, res, this.forwarder);
    // An upgrade gets the same intercept as any request: a WebSocket on plain HTTP for a
    // service that requires HTTPS is redirected, not spliced through in the clear.
    if (this.answeredByIntercept(exchange)) return;
    const found = this.lookup(exchange);
    if ('status' in found) return;
    const { service, host } = found;
    const target = await this.acquireTarget(service, host, exchange);
    if (typeof target === 'number') {
      if (!res.writableEnded) socket.destroy();
      return;
    }
    res.detachSocket(socket as Parameters<ServerResponse['detachSocket']>[0]);
    res.removeAllListeners('finish');
    await this.inFlight(service, target, () => this.splice(req, socket, head, service, target));
  }

  /** The tunnel to the target, until either side closes; a failed handshake is answered 504 or 502. */
  private async splice(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    service: Service,
    target: Target,
  ): Promise<void> {
    const timeoutMs = this.limits.upgradeTimeoutMs;
    const outcome = await forwardUpgrade(req, socket, head, target, service.forwardHeaders, timeoutMs);
    const where = { service: service.name, target: target.address };
    if (outcome.kind === 'handshake-timeout') {
      this.logger.warn({ ...where, timeoutMs }, 'the target did not answer the upgrade in time');
      if (socket.writable)
        socket.end(serializeAnswer(respond.gatewayTimeout(service.name, timeoutMs), true, req.method ?? 'GET'));
    } else if (outcome.kind === 'upstream-error') {
      this.logger.warn({ ...where, err: outcome.error.message }, 'upgrade failed upstream');
      if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    }
  }

  /**
   * A claimed slot for the request: at once, or after waiting in the service's queue, held
   * while it has no target (a cold start) or queued while every target is at maxConcurrency;
   * or the status of the answer given instead (429 when the queue is full).
   */
  private async acquireTarget(
    service: Service,
    host: string,
    exchange: ClientExchange,
    deadline?: RequestDeadline,
  ): Promise<Target | number> {
    const target = this.claim(service);
    if (target) return target;
    if (service.unavailableReason)
      return this.answer(exchange, respond.unavailable(service.name, service.unavailableReason));
    if (service.waiting >= service.queueLimit) return this.queueFull(service, exchange);
    const queued = service.targets.length > 0;
    const heldAt = this.now();
    if (!queued) {
      traceWake('proxy-hold', service.name);
      this.heldSince.set(exchange, heldAt);
      this.metrics.requestHeld(service.name);
    }
    const outcome = await this.holdUntilTarget(service, exchange, deadline);
    switch (outcome.kind) {
      case 'target':
        if (queued) this.metrics.queuedRequestRouted(service.name, (this.now() - heldAt) / 1000);
        else this.metrics.heldRequestRouted(service.name, (this.now() - heldAt) / 1000);
        return outcome.target;
      case 'deadline':
        return this.requestTimedOut(service, exchange);
      case 'full':
        return this.queueFull(service, exchange);
      case 'timeout':
        this.metrics.wakeTimedOut(service.name);
        this.logger.warn(
          { service: service.name, timeoutMs: service.startupTimeoutMs, requestId: exchange.requestId },
          'held request timed out waiting for a target',
        );
        return this.answer(exchange, respond.startupTimeout(service.name, service.startupTimeoutMs));
      case 'unavailable':
        return this.answer(exchange, respond.unavailable(service.name, outcome.reason));
      case 'removed':
        return this.answer(exchange, respond.serviceRemoved(host));
      case 'aborted':
        return CLIENT_CLOSED;
    }
  }

  /** 429: every slot is taken and the queue behind them is full. */
  private queueFull(service: Service, exchange: ClientExchange): number {
    this.metrics.queueRejected(service.name);
    this.logger.warn(
      { service: service.name, maxQueued: service.queueLimit, requestId: exchange.requestId },
      'queue full: request refused with 429',
    );
    return this.answer(exchange, respond.queueFull(service.name, service.queueLimit));
  }

  /** The whole-request deadline passed: 504, or the answer that had begun is cut (answer() does either). */
  private requestTimedOut(service: Service, exchange: ClientExchange, target?: Target): number {
    const timeoutMs = service.requestTimeoutMs ?? 0;
    const cut = exchange.responseStarted;
    this.logger.warn(
      { service: service.name, target: target?.address, timeoutMs, requestId: exchange.requestId, cut },
      cut ? 'request timeout: the answer under way was cut' : 'request timeout: answered 504',
    );
    return this.answer(exchange, respond.requestTimeout(service.name, timeoutMs));
  }

  /** The service's timeouts for one forward, and the first-byte clock of a request that was held. */
  private forwardOptions(service: Service, exchange: ClientExchange, deadline?: RequestDeadline): ForwardOptions {
    const options: ForwardOptions = {
      responseTimeoutMs: service.responseTimeoutMs,
      sendTimeoutMs: this.limits.sendTimeoutMs,
      trustForwardedHeaders: service.forwardHeaders,
      ...(deadline ? { deadline } : {}),
      ...(service.h2c ? { h2c: this.h2cSessions } : {}),
    };
    const heldAt = this.heldSince.get(exchange);
    if (heldAt !== undefined) {
      traceWake('proxy-forward', service.name);
      options.onResponseHead = () => {
        traceWake('proxy-response-head', service.name);
        this.metrics.heldRequestFirstByte(service.name, (this.now() - heldAt) / 1000);
      };
    }
    return options;
  }

  /** Forwards to one target; returns the status the client got, or 'refused' to try the next target. */
  private async forwardTo(
    service: Service,
    target: Target,
    exchange: ClientExchange,
    mayRetry: boolean,
    deadline: RequestDeadline | undefined,
  ): Promise<number | 'refused'> {
    return this.inFlight(service, target, async () => {
      if (deadline?.expired) return this.requestTimedOut(service, exchange, target);
      this.hintScaleUp(service);
      const started = this.now();
      const outcome = await exchange.forward(target, this.forwardOptions(service, exchange, deadline));
      switch (outcome.kind) {
        case 'response':
          return outcome.status;
        case 'client-aborted':
          this.logger.info(
            {
              service: service.name,
              status: CLIENT_CLOSED,
              ms: this.now() - started,
              path: exchange.url,
              requestId: exchange.requestId,
            },
            'client closed the request',
          );
          return CLIENT_CLOSED;
        case 'response-timeout':
          this.logger.warn(
            {
              service: service.name,
              target: target.address,
              timeoutMs: service.responseTimeoutMs,
              requestId: exchange.requestId,
            },
            'response timeout',
          );
          return this.answer(exchange, respond.gatewayTimeout(service.name, service.responseTimeoutMs));
        case 'request-timeout':
          return this.requestTimedOut(service, exchange, target);
        case 'upstream-error':
          if (mayRetry && isConnectionRefused(outcome.error) && !exchange.responseStarted) return 'refused';
          this.logger.warn(
            {
              service: service.name,
              target: target.address,
              err: outcome.error.message,
              requestId: exchange.requestId,
            },
            'upstream error',
          );
          return this.answer(exchange, respond.badGateway(service.name, outcome.error.message));
      }
    });
  }

  /** Asks the controller to look again when the targets carry more than their share. */
  private hintScaleUp(service: Service): void {
    const perTarget = service.targetConcurrency;
    if (perTarget === undefined || service.inFlight <= service.targets.length * perTarget) return;
    const now = this.now();
    if (now - (this.lastScaleHint.get(service.name) ?? 0) < PROXY_DEFAULTS.scaleHintIntervalMs) return;
    this.lastScaleHint.set(service.name, now);
    this.hooks?.wake(service.name);
  }

  /** Waits in the service's queue for a slot (dispatchWaiting() hands them out), or for what ends the wait. */
  private holdUntilTarget(
    service: Service,
    exchange: ClientExchange,
    deadline?: RequestDeadline,
  ): Promise<HoldOutcome> {
    return new Promise((resolve) => {
      let leave: (() => void) | undefined;
      const settle = (outcome: HoldOutcome): void => {
        clearTimeout(timer);
        leave?.();
        service.changes.off('changed', onChanged);
        service.changes.off('removed', onRemoved);
        stopWatchingClient();
        deadline?.whenExpired(undefined);
        this.metrics.queueLength(service.name, service.waiting);
        if (service.waiting === 0) this.stopRewake(service.name);
        resolve(outcome);
      };
      const onChanged = (): void => {
        if (service.targets.length === 0 && service.unavailableReason)
          settle({ kind: 'unavailable', reason: service.unavailableReason });
      };
      const onRemoved = (): void => settle({ kind: 'removed' });
      const onAbort = (): void => settle({ kind: 'aborted' });
      // A cold start gives up after startupTimeout; behind busy targets, the request's own deadline bounds the wait.
      const timer = setTimeout(() => {
        if (service.targets.length === 0 || !deadline) settle({ kind: 'timeout' });
      }, service.startupTimeoutMs);

      service.changes.on('changed', onChanged);
      service.changes.on('removed', onRemoved);
      const stopWatchingClient = exchange.onClientGone(onAbort);
      deadline?.whenExpired(() => settle({ kind: 'deadline' }));
      leave = service.queue.enter((target) => settle({ kind: 'target', target }), service.queueLimit);
      if (!leave) return settle({ kind: 'full' });
      this.metrics.queueLength(service.name, service.waiting);
      // Woken only once listening, so a hook that deploys at once is not missed. With targets
      // that are all busy, the wake asks the controller for another instance (up to maxInstances).
      if (service.waiting === 1) this.wake(service, exchange.requestId);
    });
  }

  private wake(service: Service, requestId?: string): void {
    this.logger.debug({ service: service.name, requestId }, 'waking service');
    this.hooks?.wake(service.name, requestId);
    if (!this.rewakeTimers.has(service.name)) {
      const timer = setInterval(() => {
        if (service.waiting > 0) this.hooks?.wake(service.name);
      }, PROXY_DEFAULTS.rewakeIntervalMs);
      timer.unref();
      this.rewakeTimers.set(service.name, timer);
    }
  }

  private stopRewake(name: string): void {
    const timer = this.rewakeTimers.get(name);
    if (timer) {
      clearInterval(timer);
      this.rewakeTimers.delete(name);
    }
  }

  private async drain(target: Target): Promise<void> {
    const deadline = this.now() + this.drainTimeoutMs;
    while (target.inFlight > 0 && this.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }
}
