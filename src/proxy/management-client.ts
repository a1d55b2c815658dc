import net from 'node:net';
import type {
  DeployRequest,
  GlobalOption,
  HostMove,
  OutcomeCounts,
  ProxyHooks,
  ProxyManagement,
  ServiceInfo,
} from './management.js';
import {
  encode,
  LineDecoder,
  type ManagementReply,
  type ManagementRequest,
  type ReplyResults,
  type ServerMessage,
} from './protocol.js';

// The proxy's management interface from another process: the CLI's client mode and the
// controller of `luma controller`. It speaks the same ProxyManagement interface as the
// in-process proxy, so the controller cannot tell the difference.

type RequestBody = ManagementRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class ProxyUnavailableError extends Error {
  readonly code = 'ProxyUnavailable';
  constructor(
    readonly socketPath: string,
    cause: NodeJS.ErrnoException,
  ) {
    super(describeSocketError(socketPath, cause));
    this.name = 'ProxyUnavailableError';
  }
}

export class ProxyRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProxyRequestError';
  }
}

function describeSocketError(socketPath: string, error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return `the proxy is not running (nothing listens on ${socketPath}); start it with \`luma proxy run\``;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on the proxy socket ${socketPath}; run this as the user that started the proxy`;
    default:
      return `cannot talk to the proxy on ${socketPath}: ${error.message}`;
  }
}

export interface ManagementClientOptions {
  socketPath: string;
  /** Receive wake events (the controller); reconnects when the proxy restarts. */
  hooks?: ProxyHooks;
  /** Called after every (re)connection, so a controller can re-deploy everything. */
  onConnected?: () => void;
  reconnectDelayMs?: number;
}

export class ManagementClient implements ProxyManagement {
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (reply: ManagementReply) => void; reject: (error: Error) => void }
  >();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ManagementClientOptions) {}

  /** Connects now (and, with hooks, keeps reconnecting until close()). */
  async connect(): Promise<void> {
    await this.ensureSocket();
  }

  async deploy(request: DeployRequest): Promise<void> {
    await this.call({ type: 'deploy', request });
  }

  async deployMovingHosts(request: DeployRequest, moves: readonly HostMove[]): Promise<void> {
    await this.call({ type: 'deploy', request, moves: [...moves] });
  }

  async remove(service: string): Promise<void> {
    await this.call({ type: 'remove', service });
  }

  async getService(service: string): Promise<ServiceInfo | undefined> {
    return ((await this.call({ type: 'get-service', service })) as ReplyResults['get-service']) ?? undefined;
  }

  async listServices(): Promise<ServiceInfo[]> {
    return (await this.call({ type: 'list-services' })) as ReplyResults['list-services'];
  }

  async setGlobalOption(option: GlobalOption, value: string): Promise<void> {
    await this.call({ type: 'set-global-option', option, value });
  }

  async preconnect(target: string): Promise<void> {
    await this.call({ type: 'preconnect', target });
  }

  async revisionOutcomes(): Promise<Record<string, OutcomeCounts>> {
    return (await this.call({ type: 'revision-outcomes' })) as ReplyResults['revision-outcomes'];
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.socket?.destroy();
  }

  private async call(body: RequestBody): Promise<ReplyResults[keyof ReplyResults]> {
    const socket = await this.ensureSocket();
    const id = this.nextId++;
    const reply = await new Promise<ManagementReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      socket.write(encode({ ...body, id } as ManagementRequest));
    });
    if (!reply.ok) throw new ProxyRequestError(reply.error.code, reply.error.message);
    return reply.result;
  }

  private ensureSocket(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(this.options.socketPath);
      socket.setEncoding('utf8');
      const decoder = new LineDecoder();
      socket.once('connect', () => {
        this.socket = socket;
        this.connecting = undefined;
        if (this.options.hooks) {
          // Subscribing is itself a request; wake events follow on this connection.
          const id = this.nextId++;
          this.pending.set(id, { resolve: () => undefined, reject: () => undefined });
          socket.write(encode({ id, type: 'subscribe' }));
        }
        resolve(socket);
        this.options.onConnected?.();
      });
      socket.on('data', (chunk: string) => {
        for (const line of decoder.push(chunk)) this.dispatch(line);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        if (this.socket !== socket) {
          this.connecting = undefined;
          reject(new ProxyUnavailableError(this.options.socketPath, error));
          this.scheduleReconnect();
        }
      });
      socket.once('close', () => {
        if (this.socket !== socket) return;
        this.socket = undefined;
        const error = new ProxyUnavailableError(
          this.options.socketPath,
          Object.assign(new Error('the proxy closed the connection'), { code: 'ECONNRESET' }),
        );
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
        this.scheduleReconnect();
      });
    });
    return this.connecting;
  }

  private scheduleReconnect(): void {
    if (this.closed || !this.options.hooks || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.ensureSocket().catch(() => undefined);
    }, this.options.reconnectDelayMs ?? 500);
    this.reconnectTimer.unref();
  }

  private dispatch(line: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(line) as ServerMessage;
    } catch {
      return;
    }
    if ('event' in message) {
      if (message.event === 'wake')
        this.options.hooks?.wake(
          message.service,
          typeof message.requestId === 'string' ? message.requestId : undefined,
        );
      else if (message.event === 'certificate') this.options.hooks?.certificateChanged?.(message.service);
      return;
    }
    const waiter = this.pending.get(message.id);
    if (waiter) {
      this.pending.delete(message.id);
      waiter.resolve(message);
    }
  }
}
