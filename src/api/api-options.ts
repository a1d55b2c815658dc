import type { Condition } from '../model/types.js';
import type { Registry } from 'prom-client';
import type { CompatSettings } from '../compat/settings.js';
import type { AdmissionSettings } from '../apply/admission.js';
import type { EventLog } from '../events/event-log.js';
import type { ContextStore } from '../images/context-store.js';
import type { LogHub } from '../logs/log-hub.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import type { UsageRecord } from '../usage/ledger.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { SyncControl } from './sync-routes.js';
import type { SecretBox } from '../secrets/secret-box.js';

// What the HTTP API is built from: one typed object the daemon fills and every route
// module reads the part it needs of.

export interface HealthReport {
  status: 'ok' | 'degraded';
  docker: { reachable: boolean; error?: string };
  /** With `--store postgres://…`: whether the database answers. */
  database?: { reachable: boolean; error?: string };
  /** With `--store postgres://…`: whether this process leads the controllers sharing the database. */
  leader?: boolean;
  /** This process's identity in the election, and the current leader's (none while no lease holds). */
  election?: { id: string; current?: { id: string; epoch: number } };
  /**
   * This controller's own conditions, as a Kubernetes node reports its own (kubectl describe
   * node): `DatabaseReachable` with a PostgreSQL store. Not kept on objects: while the
   * database is away nothing can be written to it.
   */
  conditions?: Condition[];
}

export interface ApiOptions {
  store: ObjectStore;
  contexts: ContextStore;
  logs: LogHub;
  /** Where project and lease logs are read from. */
  runtime: ContainerRuntime;
  /** How often a followed log sends a heartbeat (SSE comment, WebSocket ping and message). */
  logHeartbeatIntervalMs: number;
  /** A watch or event stream reader that lets more than this pile up unread is dropped (default 8 MiB). */
  watchMaxBufferedBytes?: number;
  /** How often a followed log looks for new instances besides Docker's events. */
  logPollIntervalMs?: number;
  clock?: Clock;
  maxUploadBytes: number;
  /** The operator's rules every write must pass (lease bounds and caps, image allowlist). */
  admission: AdmissionSettings;
  /** What ended leases used and cost. */
  usage: { records(): readonly UsageRecord[] };
  /** What happened to objects: `GET /api/v1alpha1/events`, and described objects' recent history. */
  events?: EventLog;
  logger: Logger;
  /** What every request but /healthz and /metrics must carry (`Authorization: Bearer TOKEN`). */
  token: string;
  health: () => Promise<HealthReport>;
  /** Last known Docker state, without a fresh check; told to every client in a header. */
  dockerState: () => HealthReport['docker'];
  /** The watched manifests directory, when this process follows one. */
  sync?: SyncControl;
  /** Served at /metrics in Prometheus' text format; no /metrics route when absent. */
  metrics?: Registry;
  /** Starts a project as a request would (`POST /projects/NAME/wake`); no such route when absent. */
  wake?: (project: string) => void;
  /** The earlier systems' interfaces (src/compat); their defaults when absent. */
  compat?: CompatSettings | undefined;
  /** Seals Secrets' values as they are applied; Secrets are refused when absent. */
  secrets?: SecretBox;
}

/** `?follow=true`, `?dryRun=1`: what a query string says yes with. */
export function isTrue(value: unknown): boolean {
  return value === 'true' || value === '1' || value === true;
}
