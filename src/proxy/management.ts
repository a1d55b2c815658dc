// The proxy's management interface (SPEC §3). Clients (the controller, the CLI's client
// mode) drive the proxy only through this; in `luma up` it is called in-process, and the
// proxy daemon will serve the same messages over its Unix socket.

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
}

export interface ActivitySnapshot {
  /** Epoch ms of the last request arrival or completion; undefined if none yet. */
  lastActivityAt?: number;
  /** Requests being forwarded right now. */
  inFlight: number;
  /** Requests held while the service has no target. */
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
  unavailableReason?: string;
  activity: ActivitySnapshot;
}

export interface ProxyManagement {
  /**
   * Creates or updates a service. Resolves once targets this deploy removed have no
   * request in flight any more (bounded by the drain timeout), so a caller may then
   * stop them safely.
   */
  deploy(request: DeployRequest): Promise<void>;
  remove(service: string): Promise<void>;
  getService(service: string): Promise<ServiceInfo | undefined>;
  listServices(): Promise<ServiceInfo[]>;
}

/** What the proxy asks of its controller. */
export interface ProxyHooks {
  /** A request is waiting for a service that has no target: start one. */
  wake(service: string): void;
}

export class HostConflictError extends Error {
  readonly code = 'HostConflict';
  constructor(readonly host: string, readonly owner: string) {
    super(`host "${host}" is already routed to service "${owner}"`);
    this.name = 'HostConflictError';
  }
}
