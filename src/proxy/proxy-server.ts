import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import { Forwarder } from './forwarder.js';
import type { DeployRequest, ProxyHooks, ProxyManagement, ServiceInfo } from './management.js';
import { respond } from './responses.js';
import { normalizeHost, RouteTable, type Service, type Target } from './route-table.js';

// The edge proxy: routes by Host, holds requests for services that have no target while
// asking its controller to wake them, and records activity. It knows nothing of Docker.

export const HEALTH_PATH = '/luma-proxy-health';
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** A held request re-asks for a wake this often, in case the first ask was lost. */
const REWAKE_INTERVAL_MS = 1_000;
const DRAIN_POLL_MS = 5;
const MAX_REFUSED_RETRIES = 3;

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
}

type HoldOutcome = { kind: 'target'; target: Target } | { kind: 'timeout' } | { kind: 'unavailable'; reason: string } | { kind: 'removed' } | { kind: 'aborted' };

export class ProxyServer implements ProxyManagement {
  private readonly routes = new RouteTable();
  private readonly forwarder = new Forwarder();
  private readonly rewakeTimers = new Map<string, NodeJS.Timeout>();
  private hooks: ProxyHooks | undefined;
  private readonly drainTimeoutMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private server: Server | undefined;

  constructor(options: ProxyServerOptions = {}) {
    this.hooks = options.hooks;
    this.drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
  }

  setHooks(hooks: ProxyHooks): void {
    this.hooks = hooks;
  }

  // ---------- management interface ----------

  async deploy(request: DeployRequest): Promise<void> {
    const { service, removed } = this.routes.apply(request);
    if (service.targets.length === 0 && service.waiting > 0 && !service.unavailableReason) this.wake(service);
    await Promise.all(removed.map((target) => this.drain(target)));
  }

  async remove(name: string): Promise<void> {
    const service = this.routes.remove(name);
    if (service) {
      this.stopRewake(name);
      await Promise.all(service.targets.map((target) => this.drain(target)));
    }
  }

  async getService(name: string): Promise<ServiceInfo | undefined> {
    return this.routes.get(name)?.info();
  }

  async listServices(): Promise<ServiceInfo[]> {
    return this.routes.all().map((service) => service.info());
  }

  // ---------- traffic ----------

  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    server.keepAliveTimeout = 65_000;
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

  async close(): Promise<void> {
    for (const name of this.rewakeTimers.keys()) this.stopRewake(name);
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
    this.forwarder.close();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === HEALTH_PATH) {
      respond.health(res);
      return;
    }
    const host = normalizeHost(req.headers.host);
    if (!host) {
      respond.missingHost(res);
      return;
    }
    const service = this.routes.lookupHost(host);
    if (!service) {
      respond.unknownHost(res, host);
      return;
    }
    service.lastActivityAt = this.now();

    // A target that refuses connections (its container died) is dropped and the request
    // is held for the next one; only requests without a body, so nothing is sent twice.
    for (let attempt = 0; ; attempt++) {
      const target = await this.acquireTarget(service, host, req, res);
      if (!target) return;
      const outcome = await this.forwardTo(service, target, req, res, attempt < MAX_REFUSED_RETRIES && hasNoBody(req));
      if (outcome !== 'refused') return;
      service.targets = service.targets.filter((candidate) => candidate !== target);
      this.logger.warn({ service: service.name, target: target.address }, 'target refused the connection; dropped it and waking the service');
      if (service.targets.length === 0) this.wake(service);
    }
  }

  private async acquireTarget(service: Service, host: string, req: IncomingMessage, res: ServerResponse): Promise<Target | undefined> {
    let target = service.pickTarget();
    if (!target) {
      if (service.unavailableReason) {
        respond.unavailable(res, service.name, service.unavailableReason);
        return;
      }
      const outcome = await this.holdUntilTarget(service, req);
      switch (outcome.kind) {
        case 'target':
          target = outcome.target;
          break;
        case 'timeout':
          this.logger.warn({ service: service.name, timeoutMs: service.startupTimeoutMs }, 'held request timed out waiting for a target');
          respond.startupTimeout(res, service.name, service.startupTimeoutMs);
          return;
        case 'unavailable':
          respond.unavailable(res, service.name, outcome.reason);
          return;
        case 'removed':
          respond.serviceRemoved(res, host);
          return;
        case 'aborted':
          return;
      }
    }
    return target;
  }

  private async forwardTo(service: Service, target: Target, req: IncomingMessage, res: ServerResponse, mayRetry: boolean): Promise<'done' | 'refused'> {
    service.inFlight++;
    target.inFlight++;
    try {
      const outcome = await this.forwarder.forward(req, res, target);
      if (outcome.kind !== 'upstream-error') return 'done';
      if (mayRetry && isConnectionRefused(outcome.error) && !res.headersSent) return 'refused';
      this.logger.warn({ service: service.name, target: target.address, err: outcome.error.message }, 'upstream error');
      respond.badGateway(res, service.name, outcome.error.message);
      return 'done';
    } finally {
      service.inFlight--;
      target.inFlight--;
      service.lastActivityAt = this.now();
    }
  }

  private holdUntilTarget(service: Service, req: IncomingMessage): Promise<HoldOutcome> {
    return new Promise((resolve) => {
      service.waiting++;
      if (service.waiting === 1) this.wake(service);

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
    });
  }

  private wake(service: Service): void {
    this.logger.debug({ service: service.name }, 'waking service');
    this.hooks?.wake(service.name);
    if (!this.rewakeTimers.has(service.name)) {
      const timer = setInterval(() => {
        if (service.waiting > 0 && service.targets.length === 0) this.hooks?.wake(service.name);
      }, REWAKE_INTERVAL_MS);
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
