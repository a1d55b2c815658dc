import type { ContainerRole, OwnerRef } from '../../../src/runtime/labels.js';
import type {
  ContainerFilter,
  ContainerLogOptions,
  ContainerLogStream,
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  LogLine,
  LogStreamName,
  ManagedContainer,
  ResourceLimits,
} from '../../../src/runtime/runtime.js';

// An in-memory ContainerRuntime for unit tests: containers live in a Map, and every call
// that changes something is recorded (in order, in `calls`, and in an optional shared
// `log` so a test can check ordering against other fakes, e.g. "deploy before remove").

export type RuntimeCall =
  | { op: 'create'; id: string; spec: ContainerSpec }
  | { op: 'start'; id: string }
  | { op: 'stop'; id: string; timeoutSeconds: number }
  | { op: 'pause'; id: string }
  | { op: 'unpause'; id: string }
  | { op: 'remove'; id: string }
  | { op: 'resume'; id: string; resumed: boolean }
  | { op: 'claim'; id: string; lease: string }
  | { op: 'update'; id: string; limits: ResourceLimits };

export type GatedOp = 'list' | 'stop' | 'resume';

/** Every call of the runtime, by name: any of them can be made to fail (see failOn). */
export type RuntimeOp =
  | 'list'
  | 'imageExists'
  | 'create'
  | 'start'
  | 'stop'
  | 'pause'
  | 'unpause'
  | 'resume'
  | 'remove'
  | 'claim'
  | 'updateLimits'
  | 'inspect'
  | 'logs';

export interface FakeRuntimeOptions {
  /** Images that exist locally; imageExists() answers from this set. */
  images?: Iterable<string>;
  /** The 127.0.0.1 port a started container is published on (point it at a real test server). */
  hostPort?: number;
  /** Shared, ordered log of calls across fakes, e.g. `create web-1`, `deploy web`. */
  log?: string[];
}

export interface SeedContainer {
  owner: OwnerRef;
  role?: ContainerRole;
  specHash: string;
  state: ContainerState;
  hostPort?: number;
  appPort?: number;
  image?: string;
  name?: string;
  id?: string;
  memoryBytes?: number;
  revision?: string;
}

/** A follow stream of the fake: lines are pushed in, the reader gets them in order. */
class FakeLogStream implements ContainerLogStream {
  private readonly queued: LogLine[] = [];
  private wake: (() => void) | undefined;
  ended = false;
  closed = false;

  constructor(
    initial: LogLine[],
    private readonly onGone: () => void,
  ) {
    this.queued.push(...initial);
  }

  push(line: LogLine): void {
    this.queued.push(line);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.onGone();
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LogLine> {
    try {
      for (;;) {
        const line = this.queued.shift();
        if (line) {
          yield line;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.onGone();
    }
  }
}

const LIVE: ReadonlySet<ContainerState> = new Set(['running', 'paused', 'restarting']);

export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, ManagedContainer>();
  /** What each container wrote, in order. */
  readonly written = new Map<string, LogLine[]>();
  readonly logRequests: Array<{ id: string } & ContainerLogOptions> = [];
  private readonly followers = new Map<string, Set<FakeLogStream>>();
  private logClock = Date.UTC(2026, 0, 1);
  readonly calls: RuntimeCall[] = [];
  readonly images: Set<string>;
  readonly imageLookups: string[] = [];
  /** How many times list() was called: the fast path must not list. */
  listCalls = 0;
  readonly log: string[];
  hostPort: number | undefined;
  private nextId = 1;
  private readonly gates = new Map<GatedOp, { reached: Promise<void>; released: Promise<void>; arrive: () => void }>();

  private readonly failures = new Map<RuntimeOp, { error: Error; left: number }>();

  /**
   * Makes calls of `op` fail with `error`: the next `times` of them, or every one. The one
   * way a test breaks the engine, whatever the call (failure rows of the reconciler tables).
   */
  failOn(op: RuntimeOp, error: Error = new Error(`${op} failed`), times = Number.POSITIVE_INFINITY): void {
    this.failures.set(op, { error, left: times });
  }

  private failIfAsked(op: RuntimeOp): void {
    const failure = this.failures.get(op);
    if (!failure) return;
    if (--failure.left <= 0) this.failures.delete(op);
    throw failure.error;
  }

  constructor(options: FakeRuntimeOptions = {}) {
    this.images = new Set(options.images ?? []);
    this.hostPort = options.hostPort;
    this.log = options.log ?? [];
  }

  /** Puts a container in place without recording a call: the state a test starts from. */
  seed(container: SeedContainer): ManagedContainer {
    const id = container.id ?? this.newId();
    const managed: ManagedContainer = {
      id,
      name: container.name ?? `luma-test-${container.owner.name}-${id}`,
      owner: { ...container.owner },
      role: container.role ?? (container.owner.kind === 'Lease' ? 'lease' : 'instance'),
      specHash: container.specHash,
      state: container.state,
      appPort: container.appPort ?? 8080,
      image: container.image ?? 'hello:latest',
      createdAt: new Date(0),
      ...(container.hostPort !== undefined ? { hostPort: container.hostPort } : {}),
      ...(container.memoryBytes !== undefined ? { memoryBytes: container.memoryBytes } : {}),
      ...(container.revision !== undefined ? { revision: container.revision } : {}),
    };
    this.containers.set(id, managed);
    return copy(managed);
  }

  /** Calls that changed something, in order. */
  mutations(): RuntimeCall[] {
    return [...this.calls];
  }

  resetCalls(): void {
    this.calls.length = 0;
    this.imageLookups.length = 0;
    this.listCalls = 0;
    this.listFilters.length = 0;
  }

  async ping(): Promise<void> {}

  /** When set, list() fails with it (an engine that went away). */
  listError: Error | undefined;

  /** The filter of every list() call since resetCalls, in order. */
  readonly listFilters: ContainerFilter[] = [];

  async list(filter: ContainerFilter = {}): Promise<ManagedContainer[]> {
    this.listCalls++;
    this.listFilters.push({ ...filter });
    this.failIfAsked('list');
    await this.gateFor('list');
    if (this.listError) throw this.listError;
    return [...this.containers.values()]
      .filter(
        (container) =>
          (filter.kind === undefined || container.owner.kind === filter.kind) &&
          (filter.name === undefined || container.owner.name === filter.name) &&
          (filter.role === undefined || container.role === filter.role),
      )
      .map(copy);
  }

  async imageExists(ref: string): Promise<boolean> {
    this.failIfAsked('imageExists');
    this.imageLookups.push(ref);
    return this.images.has(ref);
  }

  async create(spec: ContainerSpec): Promise<ManagedContainer> {
    this.failIfAsked('create');
    const id = this.newId();
    const container: ManagedContainer = {
      id,
      name: `luma-test-${spec.owner.name}-${id}`,
      owner: { ...spec.owner },
      role: spec.role ?? 'instance',
      specHash: spec.specHash,
      state: 'created',
      appPort: spec.port,
      image: spec.image,
      createdAt: new Date(0),
      ...(spec.memoryBytes ? { memoryBytes: spec.memoryBytes } : {}),
      ...(spec.revision ? { revision: spec.revision } : {}),
    };
    this.containers.set(id, container);
    this.record({ op: 'create', id, spec: structuredClone(spec) }, `create ${id}`);
    return copy(container);
  }

  /** When set, every started container's app exits at once with this code, after writing these lines. */
  exitOnStart: { exitCode: number; lines: string[] } | undefined;

  async start(id: string): Promise<ManagedContainer> {
    this.failIfAsked('start');
    const container = this.mustGet(id);
    this.record({ op: 'start', id }, `start ${id}`);
    container.state = 'running';
    if (this.hostPort !== undefined) container.hostPort = this.hostPort;
    const started = copy(container);
    if (this.exitOnStart) {
      for (const line of this.exitOnStart.lines) this.writeLog(id, line);
      container.state = 'exited';
      container.exitCode = this.exitOnStart.exitCode;
      delete container.hostPort;
    }
    return started;
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    this.failIfAsked('stop');
    const container = this.mustGet(id);
    this.record({ op: 'stop', id, timeoutSeconds }, `stop ${id}`);
    await this.gateFor('stop');
    container.state = 'exited';
    delete container.hostPort;
    this.endLogStreams(id);
  }

  async pause(id: string): Promise<void> {
    this.failIfAsked('pause');
    const container = this.mustGet(id);
    if (container.state !== 'running') throw new Error(`container ${id} is not running`);
    this.record({ op: 'pause', id }, `pause ${id}`);
    container.state = 'paused';
  }

  async unpause(id: string): Promise<void> {
    this.failIfAsked('unpause');
    const container = this.mustGet(id);
    this.record({ op: 'unpause', id }, `unpause ${id}`);
    if (container.state === 'paused') container.state = 'running';
  }

  /** Like the engine: only a paused container is thawed; anything else answers false. */
  async resume(id: string): Promise<boolean> {
    this.failIfAsked('resume');
    await this.gateFor('resume');
    const container = this.containers.get(id);
    const resumed = container?.state === 'paused';
    this.record({ op: 'resume', id, resumed }, `resume ${id}${resumed ? '' : ' (not paused)'}`);
    if (container && resumed) container.state = 'running';
    return resumed;
  }

  /**
   * Makes the next call of `op` wait until the test releases it, so a test can act while
   * that call is in flight (a removal by hand during a resume, a wake during a stop).
   */
  hold(op: GatedOp): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const gate = {
      reached: new Promise<void>((resolve) => (reached = resolve)),
      released: new Promise<void>((resolve) => (release = resolve)),
      arrive: () => reached(),
    };
    this.gates.set(op, gate);
    return { reached: gate.reached, release };
  }

  async remove(id: string): Promise<void> {
    this.failIfAsked('remove');
    this.mustGet(id);
    this.record({ op: 'remove', id }, `remove ${id}`);
    this.containers.delete(id);
    this.endLogStreams(id);
  }

  /** Limits last set through updateLimits, by container id. */
  readonly limits = new Map<string, ResourceLimits>();
  /** When set, updateLimits fails with this message (an engine that cannot change limits in place). */
  failUpdates: string | undefined;

  async claim(claimed: ManagedContainer, lease: OwnerRef): Promise<ManagedContainer> {
    this.failIfAsked('claim');
    const id = claimed.id;
    const container = this.mustGet(id);
    for (const other of this.containers.values()) {
      if (other.id !== id && other.owner.kind === 'Lease' && other.owner.uid === lease.uid)
        throw new Error(`a container is already named for lease ${lease.name}`);
    }
    this.record({ op: 'claim', id, lease: lease.name }, `claim ${id} ${lease.name}`);
    container.owner = { ...lease };
    container.role = 'lease';
    container.claimedFromPool = true;
    return copy(container);
  }

  async updateLimits(id: string, limits: ResourceLimits): Promise<void> {
    this.failIfAsked('updateLimits');
    this.mustGet(id);
    if (this.failUpdates) throw new Error(this.failUpdates);
    this.record({ op: 'update', id, limits: { ...limits } }, `update ${id}`);
    this.limits.set(id, { ...limits });
  }

  async inspect(id: string): Promise<ManagedContainer | undefined> {
    this.failIfAsked('inspect');
    const container = this.containers.get(id);
    return container ? copy(container) : undefined;
  }

  /** The container writes a line; `time` defaults to a clock that moves 1 ms per line. */
  writeLog(id: string, line: string, options: { stream?: LogStreamName; time?: string } = {}): LogLine {
    const entry: LogLine = {
      stream: options.stream ?? 'stdout',
      time: options.time ?? new Date(this.logClock++).toISOString(),
      line,
    };
    const lines = this.written.get(id) ?? [];
    lines.push(entry);
    this.written.set(id, lines);
    for (const follower of this.followers.get(id) ?? []) follower.push(entry);
    return entry;
  }

  /** Follow streams of a container (or of all) that a reader still holds open. */
  openLogStreams(id?: string): number {
    let count = 0;
    for (const [key, streams] of this.followers) if (id === undefined || key === id) count += streams.size;
    return count;
  }

  async logs(id: string, options: ContainerLogOptions): Promise<ContainerLogStream | undefined> {
    this.failIfAsked('logs');
    this.logRequests.push({ id, ...options });
    const container = this.containers.get(id);
    if (!container) return undefined;
    let lines = (this.written.get(id) ?? []).filter(
      (line) => options.since === undefined || Date.parse(line.time) >= Date.parse(options.since),
    );
    if (options.tail !== undefined) lines = options.tail === 0 ? [] : lines.slice(-options.tail);
    const streams = this.followers.get(id) ?? new Set<FakeLogStream>();
    const stream: FakeLogStream = new FakeLogStream(lines, () => streams.delete(stream));
    if (options.follow && LIVE.has(container.state)) {
      streams.add(stream);
      this.followers.set(id, streams);
    } else stream.end();
    return stream;
  }

  /** Docker ends a container's follow streams when it stops or goes away. */
  private endLogStreams(id: string): void {
    for (const stream of this.followers.get(id) ?? []) stream.end();
    this.followers.delete(id);
  }

  private readonly changeWatchers = new Set<(owner: OwnerRef, action: string) => void>();

  watchChanges(onChange: (owner: OwnerRef, action: string) => void): () => void {
    this.changeWatchers.add(onChange);
    return () => this.changeWatchers.delete(onChange);
  }

  /** Announces a Docker event about a container of `owner` to whoever watches changes. */
  emitChange(owner: OwnerRef, action: string): void {
    for (const watcher of this.changeWatchers) watcher(owner, action);
  }

  private async gateFor(op: GatedOp): Promise<void> {
    const gate = this.gates.get(op);
    if (!gate) return;
    this.gates.delete(op);
    gate.arrive();
    await gate.released;
  }

  private record(call: RuntimeCall, line: string): void {
    this.calls.push(call);
    this.log.push(line);
  }

  private mustGet(id: string): ManagedContainer {
    const container = this.containers.get(id);
    if (!container) throw new Error(`no such container: ${id}`);
    return container;
  }

  private newId(): string {
    return `c${this.nextId++}`;
  }
}

function copy(container: ManagedContainer): ManagedContainer {
  return { ...container, owner: { ...container.owner }, createdAt: new Date(container.createdAt) };
}
