import { chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import type { Logger } from '../util/logger.js';
import {
  GLOBAL_OPTIONS,
  type DeployRequest,
  type GlobalOption,
  type HostMove,
  type ProxyHooks,
  type ProxyManagement,
  type SplitShare,
} from './management.js';
import {
  encode,
  LineDecoder,
  type ManagementReply,
  type ManagementRequest,
  type ReplyResults,
  type ServerMessage,
} from './protocol.js';

// Serves the management interface on a Unix socket (mode 0600: only the owner may steer
// the proxy). Subscribed clients, the controller, receive wake events.

const HOST_PATTERN =
  /^(?=.{1,253}\.?$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?(:\d{1,5})?$/;
const SERVICE_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._:/-]{0,252}$/;

export class ManagementRequestError extends Error {
  readonly code = 'BadRequest';
}

function fail(message: string): never {
  throw new ManagementRequestError(message);
}

function stringField(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(`${field}: expected a non-empty string`);
  return value;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item.length > 0))
    fail(`${field}: expected a list of non-empty strings`);
  return value as string[];
}

function optionalPositive(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${field}: expected a positive number`);
  return value;
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') fail(`${field}: expected true or false`);
  return value;
}

function hostList(value: unknown, field: string): string[] {
  const hosts = stringList(value, field);
  for (const host of hosts)
    if (!HOST_PATTERN.test(host)) fail(`${field}: "${host}" is not a host name such as app.example.com`);
  return hosts;
}

/** Other services' new hosts; a service may be left with none (its names all moved elsewhere). */
function parseMoves(value: unknown): HostMove[] {
  if (!Array.isArray(value)) fail('moves: expected a list of {service, hosts}');
  return value.map((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null) fail(`moves[${index}]: expected {service, hosts}`);
    const move = raw as Record<string, unknown>;
    return {
      service: stringField(move.service, `moves[${index}].service`),
      hosts: hostList(move.hosts ?? [], `moves[${index}].hosts`),
    };
  });
}

/** The deploy fields that are positive numbers when given. */
const POSITIVE_FIELDS = [
  'startupTimeoutMs',
  'responseTimeoutMs',
  'requestTimeoutMs',
  'targetConcurrency',
  'maxConcurrency',
  'maxQueued',
] as const;

function parseDeploy(raw: Record<string, unknown>): DeployRequest {
  // No host is fine for a revision's service: it is reached through its project's split.
  const hosts = hostList(raw.hosts, 'hosts');
  const service = stringField(raw.service, 'service');
  if (!SERVICE_PATTERN.test(service))
    fail(`service: "${service}" is not a service name (letters, digits, '.', '_', '-', ':' and '/', up to 253)`);
  const request: DeployRequest = {
    service,
    hosts,
    targets: raw.targets === undefined ? [] : stringList(raw.targets, 'targets'),
  };
  for (const name of POSITIVE_FIELDS) {
    const value = optionalPositive(raw[name], name);
    if (value !== undefined) request[name] = value;
  }
  const forwardHeaders = optionalBoolean(raw.forwardHeaders, 'forwardHeaders');
  const tls = optionalBoolean(raw.tls, 'tls');
  const sslRedirect = optionalBoolean(raw.sslRedirect, 'sslRedirect');
  const h2c = optionalBoolean(raw.h2c, 'h2c');
  if (forwardHeaders !== undefined) request.forwardHeaders = forwardHeaders;
  if (tls !== undefined) request.tls = tls;
  if (sslRedirect !== undefined) request.sslRedirect = sslRedirect;
  if (h2c !== undefined) request.h2c = h2c;
  if (raw.revision !== undefined) request.revision = stringField(raw.revision, 'revision');
  if (raw.unavailableReason !== undefined)
    request.unavailableReason = stringField(raw.unavailableReason, 'unavailableReason');
  if (raw.revision !== undefined) request.revision = stringField(raw.revision, 'revision');
  if (raw.split !== undefined) request.split = parseSplit(raw.split);
  if (raw.unsplitHosts !== undefined) request.unsplitHosts = hostList(raw.unsplitHosts, 'unsplitHosts');
  if (raw.healthCheck !== undefined) {
    const check = raw.healthCheck as Record<string, unknown>;
    if (typeof check !== 'object' || check === null) fail('healthCheck: expected an object with path and timeoutMs');
    const path = stringField(check.path, 'healthCheck.path');
    if (!path.startsWith('/')) fail('healthCheck.path: expected a path starting with /');
    request.healthCheck = { path, timeoutMs: optionalPositive(check.timeoutMs, 'healthCheck.timeoutMs') ?? 30_000 };
  }
  return request;
}

function parseSplit(raw: unknown): SplitShare[] {
  if (!Array.isArray(raw)) fail('split: expected a list of { service, revision, weight }');
  return raw.map((entry: unknown, index) => {
    const share = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const weight = share.weight;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0)
      fail(`split[${index}].weight: expected a whole number of 0 or more`);
    const service = stringField(share.service, `split[${index}].service`);
    return { service, revision: stringField(share.revision, `split[${index}].revision`), weight };
  });
}

export function parseManagementRequest(line: string): ManagementRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    fail('not a JSON message');
  }
  if (typeof raw !== 'object' || raw === null) fail('expected a JSON object');
  const message = raw as Record<string, unknown>;
  const id = message.id;
  if (typeof id !== 'number' || !Number.isInteger(id)) fail('id: expected an integer');
  switch (message.type) {
    case 'deploy': {
      const request = message.request;
      if (typeof request !== 'object' || request === null) fail('request: expected the deploy request');
      const deploy = parseDeploy(request as Record<string, unknown>);
      return message.moves === undefined
        ? { id, type: 'deploy', request: deploy }
        : { id, type: 'deploy', request: deploy, moves: parseMoves(message.moves) };
    }
    case 'remove':
      return { id, type: 'remove', service: stringField(message.service, 'service') };
    case 'get-service':
      return { id, type: 'get-service', service: stringField(message.service, 'service') };
    case 'list-services':
      return { id, type: 'list-services' };
    case 'set-global-option': {
      const option = message.option;
      if (typeof option !== 'string' || !(GLOBAL_OPTIONS as readonly string[]).includes(option))
        fail(`option: expected one of ${GLOBAL_OPTIONS.join(', ')}`);
      return {
        id,
        type: 'set-global-option',
        option: option as GlobalOption,
        value: stringField(message.value, 'value'),
      };
    }
    case 'subscribe':
      return { id, type: 'subscribe' };
    case 'preconnect':
      return { id, type: 'preconnect', target: stringField(message.target, 'target') };
    case 'revision-outcomes':
      return { id, type: 'revision-outcomes' };
    default:
      return fail(
        `type: expected deploy, remove, get-service, list-services, set-global-option, subscribe, preconnect or revision-outcomes`,
      );
  }
}

function idOf(line: string): number {
  const match = /"id"\s*:\s*(-?\d+)/.exec(line);
  return match ? Number(match[1]) : -1;
}

export class ManagementServer implements ProxyHooks {
  private readonly server: net.Server;
  private readonly subscribers = new Set<net.Socket>();
  private readonly connections = new Set<net.Socket>();

  constructor(
    private readonly proxy: ProxyManagement,
    private readonly logger: Logger,
  ) {
    this.server = net.createServer((socket) => this.serve(socket));
  }

  /** Forwards the proxy's wake requests to every subscribed controller. */
  wake(service: string, requestId?: string): void {
    this.broadcast(encode({ event: 'wake', service, ...(requestId !== undefined ? { requestId } : {}) }));
  }

  /** Tells subscribed controllers that a certificate of the service changed state. */
  certificateChanged(service: string): void {
    this.broadcast(encode({ event: 'certificate', service }));
  }

  private broadcast(line: string): void {
    for (const socket of this.subscribers) socket.write(line);
  }

  hasSubscribers(): boolean {
    return this.subscribers.size > 0;
  }

  async listen(socketPath: string): Promise<void> {
    await removeStaleSocket(socketPath);
    // The umask makes the socket 0600 from its first moment; chmod confirms it.
    const previousMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(socketPath, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(previousMask);
    }
    await chmod(socketPath, 0o600);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Every client, subscribed or idle, is let go: server.close() waits for all of them.
    for (const socket of this.connections) socket.destroy();
    await closed;
  }

  private serve(socket: net.Socket): void {
    const decoder = new LineDecoder();
    this.connections.add(socket);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = decoder.push(chunk);
      } catch (error) {
        socket.end(encode({ id: -1, ok: false, error: { code: 'BadRequest', message: (error as Error).message } }));
        return;
      }
      for (const line of lines) void this.answer(socket, line);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.subscribers.delete(socket);
      this.connections.delete(socket);
    });
  }

  private async answer(socket: net.Socket, line: string): Promise<void> {
    let reply: ManagementReply;
    try {
      const request = parseManagementRequest(line);
      reply = { id: request.id, ok: true, result: await this.execute(socket, request) };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      reply = {
        id: idOf(line),
        ok: false,
        error: { code: typeof code === 'string' ? code : 'Error', message: (error as Error).message },
      };
      this.logger.debug({ err: reply.error }, 'management request refused');
    }
    if (socket.writable) socket.write(encode(reply satisfies ServerMessage));
  }

  private async execute(socket: net.Socket, request: ManagementRequest): Promise<ReplyResults[keyof ReplyResults]> {
    switch (request.type) {
      case 'deploy':
        if (request.moves) await this.proxy.deployMovingHosts(request.request, request.moves);
        else await this.proxy.deploy(request.request);
        return null;
      case 'remove':
        await this.proxy.remove(request.service);
        return null;
      case 'get-service':
        return (await this.proxy.getService(request.service)) ?? null;
      case 'list-services':
        return this.proxy.listServices();
      case 'set-global-option':
        await this.proxy.setGlobalOption(request.option, request.value);
        return null;
      case 'subscribe':
        this.subscribers.add(socket);
        return null;
      case 'preconnect':
        await this.proxy.preconnect(request.target);
        return null;
      case 'revision-outcomes':
        return this.proxy.revisionOutcomes();
    }
  }
}

/** A socket file left by a crashed daemon is removed; one that a live daemon answers on is not. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another proxy is already listening on ${socketPath}`);
  await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
