import http, { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import { waitUntilReady } from '../util/readiness-probe.js';
import { Forwarder } from './forwarder.js';
import { NO_PROXY_METRICS, type ProxyMetrics } from '../metrics/proxy-metrics.js';
import {
  HealthCheckFailedError,
  UnknownServiceError,
  type DeployRequest,
  type GlobalOption,
  type ProxyHooks,
  type ProxyManagement,
  type ServiceInfo,
} from './management.js';
import { respond } from './responses.js';
import { routeableTarget } from './request-target.js';
import { RouteTable, type Service, type Target } from './route-table.js';
import { RouteStateFile, type RouteState } from './route-state.js';
import { forwardUpgrade } from './websocket.js';
import { ensureRequestId } from './request-id.js';

// The edge proxy: routes by Host, holds requests for services that have no target while
// asking its controller to wake them, and records activity. It knows nothing of Docker.

export const HEALTH_PATH = '/luma-proxy-health';
export const PROXY_DEFAULTS = {
  drainTimeoutMs: 30_000,
  /** Slow clients get this long to send their headers (slowloris). */
  headersTimeoutMs: 30_000,
  /** Larger request heads get 431. */
  maxHeaderBytes: 16 * 1024,
  keepAliveTimeoutMs: 65_000,
  /** A held request re-asks for a wake this often, in case the first ask was lost. */
  rewakeIntervalMs: 1_000,
  /** At most one scale-up hint per service this often. */
  scaleHintIntervalMs: 100,
  maxRefusedRetries: 3,
} as const;
const DRAIN_POLL_MS = 5;

function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

function isConnectionRefused(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === 'ECONNREFUSED';
}

export interface ProxyServerOptions {
  hooks?: ProxyHooks;
  drainTimeoutMs?: number;
  logger?: Logger;
  now?: () => number;
  /** Where the route table is kept; routes are restored from it by restore(). */
  stateFile?: string;
  /** How long a client may take to send a request head (slowloris); default PROXY_DEFAULTS.headersTimeoutMs. */
  headersTimeoutMs?: number;
  /** Requests, holds and wake timeouts are counted here; nothing is when absent. */
  metrics?: ProxyMetrics;
}

type HoldOutcome = { kind: 'target'; target: Target } | { kind: 'timeout' } | { kind: 'unavailable'; reason: string } | { kind: 'removed' } | { kind: 'aborted' };

export class ProxyServer implements ProxyManagement {
  private readonly routes = new RouteTable();
  private readonly forwarder = new Forwarder();
  private readonly rewakeTimers = new Map<string, NodeJS.Timeout>();
  private readonly lastScaleHint = new Map<string, number>();
  private readonly globals = new Map<GlobalOption, string>();
  private readonly upgradedSockets = new Set<Duplex>();
  private readonly stateFile: RouteStateFile | undefined;
  private hooks: ProxyHooks | undefined;
  private readonly drainTimeoutMs: number;
  private readonly headersTimeoutMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly metrics: ProxyMetrics;
  /** When each held request began to wait, for the time to its first byte. */
  private readonly heldSince = new WeakMap<IncomingMessage, number>();
  private server: Server | undefined;
  private activeRequests = 0;
  private closing = false;

  constructor(options: ProxyServerOptions = {}) {
    this.hooks = options.hooks;
    this.drainTimeoutMs = options.drainTimeoutMs ?? PROXY_DEFAULTS.drainTimeoutMs;
    this.headersTimeoutMs = options.headersTimeoutMs ?? PROXY_DEFAULTS.headersTimeoutMs;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? NO_PROXY_METRICS;
    this.stateFile = options.stateFile ? new RouteStateFile(options.stateFile) : undefined;
  }

  setHooks(hooks: ProxyHooks | undefined): void {
    this.hooks = hooks;
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
        this.logger.error({ service: service.service, err: (error as Error).message }, 'could not restore a saved route');
      }
    }
    return state.services.length;
  }

  // ---------- management interface ----------

  async deploy(request: DeployRequest): Promise<void> {
    const newTargets = this.routes.check(request);
    const { healthCheck } = request;
    if (healthCheck) {
      // The transaction: traffic moves only once every new target answers.
      await Promise.all(
        newTargets.map(async (address) => {
          const separator = address.lastIndexOf(':');
          try {
            await waitUntilReady(address.slice(0, separator).replace(/^\[(.*)\]$/, '$1'), Number(address.slice(separator + 1)), { type: 'http', path: healthCheck.path }, healthCheck.timeoutMs);
          } catch (error) {
            throw new HealthCheckFailedError(request.service, address, (error as Error).message);
          }
        }),
      );
    }
    const { service, removed } = this.routes.apply(request);
    this.metrics.serviceDeployed(service.name);
    await this.persist();
    if (service.targets.length === 0 && service.waiting > 0 && !service.unavailableReason) this.wake(service);
    await Promise.all(removed.map((target) => this.drain(target)));
  }

  async remove(name: string): Promise<void> {
    const service = this.routes.remove(name);
    if (!service) throw new UnknownServiceError(name);
    this.stopRewake(name);
    this.metrics.serviceRemoved(name);
    await this.persist();
    await Promise.all(service.targets.map((target) => this.drain(target)));
  }

  async getService(name: string): Promise<ServiceInfo | undefined> {
    return this.routes.get(name)?.info();
  }

  async listServices(): Promise<ServiceInfo[]> {
    return this.routes.all().map((service) => service.info());
  }

  async setGlobalOption(option: GlobalOption, value: string): Promise<void> {
    this.globals.set(option, value);
    await this.persist();
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
        forwardHeaders: service.forwardHeaders,
        tls: service.tls,
        sslRedirect: service.sslRedirect,
        ...(service.targetConcurrency !== undefined ? { targetConcurrency: service.targetConcurrency } : {}),
        ...(service.unavailableReason ? { unavailableReason: service.unavailableReason } : {}),
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
    const checkingIntervalMs = Math.max(100, Math.min(1_000, Math.floor(this.headersTimeoutMs / 4)));
    const server = http.createServer({ maxHeaderSize: PROXY_DEFAULTS.maxHeaderBytes, requireHostHeader: false, connectionsCheckingInterval: checkingIntervalMs }, (req, res) => {
      void this.handle(req, res);
    });
    server.headersTimeout = this.headersTimeoutMs;
    // Long uploads, downloads and event streams are bounded by idle and response timeouts, not a total.
    server.requestTimeout = 0;
    server.keepAliveTimeout = PROXY_DEFAULTS.keepAliveTimeoutMs;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.handleUpgrade(req, socket, head);
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      // Node answers oversized heads with 431 itself when we let it; other parse errors get 400.
      if (socket.writable) {
        const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      } else socket.destroy();
    });
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

  /** Stops accepting, lets in-flight requests finish (up to the drain timeout), then closes everything. */
  async close(): Promise<void> {
    this.closing = true;
    for (const name of this.rewakeTimers.keys()) this.stopRewake(name);
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = this.now() + this.drainTimeoutMs;
      while (this.activeRequests > 0 && this.now() < deadline) await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      server.closeAllConnections();
      for (const socket of this.upgradedSockets) socket.destroy();
      await closed;
    }
    this.forwarder.close();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === HEALTH_PATH) {
      respond.health(res);
      return;
    }
    this.activeRequests++;
    if (this.closing) res.setHeader('connection', 'close');
    ensureRequestId(req);
    const started = this.now();
    let service: string | undefined;
    try {
      service = await this.route(req, res);
    } finally {
      this.activeRequests--;
      // Only routed requests: unknown hosts would make the project label unbounded.
      if (service !== undefined) this.metrics.requestFinished(service, res.statusCode, (this.now() - started) / 1000);
    }
  }

  /** Answers the request; resolves with the name of the service it was routed to, if any. */
  private async route(req: IncomingMessage, res: ServerResponse): Promise<string | undefined> {
    const target = routeableTarget(req);
    if (!target.ok) {
      if (target.missingHost) respond.missingHost(res);
      else respond.badRequest(res, target.reason);
      return undefined;
    }
    const { host } = target;
    const service = this.routes.lookupHost(host);
    if (!service) {
      respond.unknownHost(res, host);
      return undefined;
    }
    service.lastActivityAt = this.now();

    // A target that refuses connections (its container died) is dropped and the request
    // is held for the next one; only requests without a body, so nothing is sent twice.
    for (let attempt = 0; ; attempt++) {
      const target = await this.acquireTarget(service, host, req, res);
      if (!target) return service.name;
      const outcome = await this.forwardTo(service, target, req, res, attempt < PROXY_DEFAULTS.maxRefusedRetries && hasNoBody(req));
      if (outcome !== 'refused') return service.name;
      service.targets = service.targets.filter((candidate) => candidate !== target);
      this.logger.warn({ service: service.name, target: target.address }, 'target refused the connection; dropped it; the request waits for the next one');
    }
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Node stops watching a socket once it hands it over for an upgrade: without this, a
    // client resetting the connection would be an uncaught error that ends the process.
    socket.on('error', () => socket.destroy());
    ensureRequestId(req);
    this.upgradedSockets.add(socket);
    try {
      await this.upgrade(req, socket, head);
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
    res.on('finish', () => socket.end());
    const requestTarget = routeableTarget(req);
    if (!requestTarget.ok) return requestTarget.missingHost ? respond.missingHost(res) : respond.badRequest(res, requestTarget.reason);
    const { host } = requestTarget;
    const service = this.routes.lookupHost(host);
    if (!service) return respond.unknownHost(res, host);
    service.lastActivityAt = this.now();
    const target = await this.acquireTarget(service, host, req, res);
    if (!target) {
      if (!res.writableEnded) socket.destroy();
      return;
    }
    res.detachSocket(socket as Parameters<ServerResponse['detachSocket']>[0]);
    res.removeAllListeners('finish');

    service.inFlight++;
    target.inFlight++;
    try {
      const outcome = await forwardUpgrade(req, socket, head, target, service.forwardHeaders);
      if (outcome.kind === 'upstream-error') {
        this.logger.warn({ service: service.name, target: target.address, err: outcome.error.message }, 'upgrade failed upstream');
        if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      }
    } finally {
      service.inFlight--;
      target.inFlight--;
      service.lastActivityAt = this.now();
    }
  }

  private async acquireTarget(service: Service, host: string, req: IncomingMessage, res: ServerResponse): Promise<Target | undefined> {
    const target = service.pickTarget();
    if (target) return target;
    if (service.unavailableReason) {
      respond.unavailable(res, service.name, service.unavailableReason);
      return undefined;
    }
    const heldAt = this.now();
    this.heldSince.set(req, heldAt);
    this.metrics.requestHeld(service.name);
    const outcome = await this.holdUntilTarget(service, req);
    switch (outcome.kind) {
      case 'target':
        this.metrics.heldRequestRouted(service.name, (this.now() - heldAt) / 1000);
        return outcome.target;
      case 'timeout':
        this.metrics.wakeTimedOut(service.name);
        this.logger.warn({ service: service.name, timeoutMs: service.startupTimeoutMs, requestId: ensureRequestId(req) }, 'held request timed out waiting for a target');
        respond.startupTimeout(res, service.name, service.startupTimeoutMs);
        return undefined;
      case 'unavailable':
        respond.unavailable(res, service.name, outcome.reason);
        return undefined;
      case 'removed':
        respond.serviceRemoved(res, host);
        return undefined;
      case 'aborted':
        return undefined;
    }
  }

  private async forwardTo(service: Service, target: Target, req: IncomingMessage, res: ServerResponse, mayRetry: boolean): Promise<'done' | 'refused'> {
    service.inFlight++;
    target.inFlight++;
    this.hintScaleUp(service);
    const started = this.now();
    const heldAt = this.heldSince.get(req);
    try {
      const outcome = await this.forwarder.forward(req, res, target, {
        responseTimeoutMs: service.responseTimeoutMs,
        trustForwardedHeaders: service.forwardHeaders,
        ...(heldAt !== undefined ? { onResponseHead: () => this.metrics.heldRequestFirstByte(service.name, (this.now() - heldAt) / 1000) } : {}),
      });
      switch (outcome.kind) {
        case 'response':
          return 'done';
        case 'client-aborted':
          // 499: nginx's name for "the client closed the connection first".
          this.logger.info({ service: service.name, status: 499, ms: this.now() - started, path: req.url, requestId: req.headers['x-request-id'] }, 'client closed the request');
          return 'done';
        case 'response-timeout':
          this.logger.warn({ service: service.name, target: target.address, timeoutMs: service.responseTimeoutMs, requestId: req.headers['x-request-id'] }, 'response timeout');
          respond.gatewayTimeout(res, service.name, service.responseTimeoutMs);
          return 'done';
        case 'upstream-error':
          if (mayRetry && isConnectionRefused(outcome.error) && !res.headersSent) return 'refused';
          this.logger.warn({ service: service.name, target: target.address, err: outcome.error.message, requestId: req.headers['x-request-id'] }, 'upstream error');
          respond.badGateway(res, service.name, outcome.error.message);
          return 'done';
      }
    } finally {
      service.inFlight--;
      target.inFlight--;
      service.lastActivityAt = this.now();
    }
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

  private holdUntilTarget(service: Service, req: IncomingMessage): Promise<HoldOutcome> {
    return new Promise((resolve) => {
      service.waiting++;

      const settle = (outcome: HoldOutcome): void => {
        clearTimeout(timer);
        service.changes.off('changed', onChanged);
        service.changes.off('removed', onRemoved);
        req.socket.off('close', onAbort);
        service.waiting--;
        if (service.waiting === 0) this.stopRewake(service.name);
        resolve(outcome);
      };
      const onChanged = (): void => {
        const target = service.pickTarget();
        if (target) settle({ kind: 'target', target });
        else if (service.unavailableReason) settle({ kind: 'unavailable', reason: service.unavailableReason });
      };
      const onRemoved = (): void => settle({ kind: 'removed' });
      const onAbort = (): void => settle({ kind: 'aborted' });
      const timer = setTimeout(() => settle({ kind: 'timeout' }), service.startupTimeoutMs);

      service.changes.on('changed', onChanged);
      service.changes.on('removed', onRemoved);
      req.socket.once('close', onAbort);
      // Woken only once listening, so a hook that deploys at once is not missed.
      if (service.waiting === 1) this.wake(service, ensureRequestId(req));
    });
  }

  private wake(service: Service, requestId?: string): void {
    this.logger.debug({ service: service.name, requestId }, 'waking service');
    this.hooks?.wake(service.name, requestId);
    if (!this.rewakeTimers.has(service.name)) {
      const timer = setInterval(() => {
        if (service.waiting > 0 && service.targets.length === 0) this.hooks?.wake(service.name);
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
