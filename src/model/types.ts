// The object model users write in manifests and the API returns. Shapes mirror the
// JSON Schemas in schemas/; the schemas are the source of truth for validation, these
// types are the source of truth for the code.

import type { Capability } from './capabilities.js';

export const API_VERSION = 'luma.dev/v1alpha1';

export const KINDS = ['Project', 'Image', 'Lease', 'Secret', 'Revision'] as const;
export type Kind = (typeof KINDS)[number];

/** Lower-case plurals used in API paths and accepted by the CLI. */
export const KIND_PLURALS: Record<Kind, string> = {
  Project: 'projects',
  Image: 'images',
  Lease: 'leases',
  Secret: 'secrets',
  Revision: 'revisions',
};

/** Kinds only the server makes: an apply or a replace of one is refused. */
export const SERVER_KINDS: readonly Kind[] = ['Revision'];

export interface ObjectMeta {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Server-set fields, never taken from a manifest. */
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  /**
   * Server-set. While any remain, a delete only marks the object (deletionTimestamp) and the
   * controller finishes its clean-up (a lease's bill, its container) before it is gone.
   */
  finalizers?: string[];
  /** Server-set when a delete is waiting for finalizers: the object is Terminating. */
  deletionTimestamp?: string;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface BaseStatus {
  observedGeneration?: number;
  phase?: string;
  conditions?: Condition[];
}

// ---------- Project ----------

export interface ResourceRequirements {
  /** CPU like `500m` or `1.5`. */
  cpu?: string;
  /** Memory like `256Mi` or `1Gi`. */
  memory?: string;
}

export interface ScalingSpec {
  minInstances?: number;
  maxInstances?: number;
  targetConcurrency?: number;
  /** Duration like `60s`. */
  idleTimeout?: string;
  pauseAfter?: string;
  /** A hard cap of in-flight requests per instance; absent: no cap. */
  maxConcurrency?: number;
  /** Requests that may wait for a slot past maxConcurrency before 429. */
  maxQueued?: number;
}

export interface ReadinessSpec {
  /** HTTP GET on this path; any answer below 500 means ready. Default `/`. */
  httpGet?: { path?: string };
  /** A TCP connect to the app port means ready. */
  tcpSocket?: Record<string, never>;
  startupTimeout?: string;
}

/** As a Kubernetes liveness probe: exactly one of httpGet and tcpSocket; the port is the project's. */
export interface LivenessSpec {
  /** HTTP GET on this path; a status from 200 to 399 means alive. */
  httpGet?: { path: string };
  tcpSocket?: Record<string, never>;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  initialDelaySeconds?: number;
}
/** As in Kubernetes: a variable whose value is one key of a Secret (see src/secrets/). */
export interface EnvFromSecret {
  valueFrom: { secretKeyRef: SecretKeyRef };
}
export interface SecretKeyRef {
  name: string;
  key: string;
}
/** A variable's value: written in the manifest, or taken from a Secret. */
export type EnvValue = string | EnvFromSecret;

export interface ProjectSpec {
  image: string;
  hostnames: string[];
  port?: number;
  env?: Record<string, EnvValue>;
  /** Replaces the image's ENTRYPOINT (and drops its CMD), as in Kubernetes. */
  command?: string[];
  /** Replaces the image's CMD, as in Kubernetes. */
  args?: string[];
  resources?: ResourceRequirements;
  scaling?: ScalingSpec;
  pool?: { size?: number };
  leases?: { maxConcurrent?: number };
  readiness?: ReadinessSpec;
  liveness?: LivenessSpec;
  tls?: boolean;
  /** The app speaks HTTP/2 cleartext (h2c) on its port; like Cloud Run's --use-http2. */
  http2?: boolean;
  /** The longest a request may take, like `300s` (Cloud Run's request timeout). */
  timeout?: string;
  /** A progressive rollout of each new revision, rolled back past its limits (src/controller/rollout.ts). */
  rollout?: RolloutSpec;
  securityContext?: SecurityContextSpec;
  /** How requests split among the project's revisions (Knative's traffic block); the latest ready one when absent. */
  traffic?: TrafficEntry[];
}

/** One line of `spec.traffic`: a share of requests for a named revision or the latest ready one, and an optional tag. */
export interface TrafficEntry {
  /** A revision of this project, like `web-1`; give it or latestRevision. */
  revisionName?: string;
  /** The newest revision that became ready (a revision that never does never gets traffic). */
  latestRevision?: boolean;
  /** Whole percent of requests, 0..100; the entries sum to 100. */
  percent: number;
  /** Reach this revision on `<tag>---<first hostname>` too, whatever its percent. */
  tag?: string;
}

/** One line of `status.traffic`: the split the proxy routes now, revisions resolved. */
export interface TrafficTarget {
  revisionName: string;
  percent: number;
  tag?: string;
  /** Where the tag reaches this revision only. */
  url?: string;
}

export interface RolloutStep {
  /** The new revision's share of the requests, 1..99. */
  percent: number;
  durationSeconds: number;
}

export interface RolloutLimits {
  /** The highest share of 5xx answers, 0..1. */
  maxErrorRate?: number;
  maxLatencyP99Ms?: number;
  /** Requests a step must see before it may move on, and before its limits are judged. */
  minRequests?: number;
}

export interface RolloutSpec {
  steps: RolloutStep[];
  limits?: RolloutLimits;
  /** Holds the rollout at its current step (`luma rollout pause`). */
  paused?: boolean;
}

/** As in Kubernetes: Linux capabilities given back on top of the few every container keeps. */
export interface SecurityContextSpec {
  capabilities?: { add?: Capability[] };
}

export interface ProjectStatus extends BaseStatus {
  phase?: 'Idle' | 'Starting' | 'Running' | 'Failed' | 'Pending';
  instances?: { running: number; starting: number; stopped: number; paused: number };
  lastRequestAt?: string;
  url?: string;
  image?: string;
  /** Containers kept started and ready for this project's leases (spec.pool.size). */
  pool?: { size: number; ready: number; starting: number };
  /** The crash loop of the current spec, kept here so that a restarted controller keeps backing off. */
  crashLoop?: CrashLoopStatus;
  /** When an instance was stopped to make room for another start: nothing starts again until a request comes. */
  evictedAt?: string;
  /** The state the controller left each instance in, and since when: drift and the retention of stopped ones. */
  instancesLeft?: InstanceLeft[];
  /** The project's revisions: the newest recorded, and the newest that became ready. */
  revisions?: ProjectRevisions;
  /** The split the proxy routes now (spec.traffic resolved, or the rollout's step). */
  traffic?: TrafficTarget[];
  /** Where the rollout of the newest revision stands: all a restarted controller needs to carry on. */
  rollout?: RolloutStatus;
}

export type RolloutPhase = 'Progressing' | 'Paused' | 'Succeeded' | 'RolledBack' | 'Undone';

/** Counts of a revision's answers as the proxy saw them (src/proxy/revision-outcomes.ts). */
export interface RolloutCounts {
  requests: number;
  errors: number;
  latencyBuckets: number[];
}

export interface RolloutStatus {
  phase: RolloutPhase;
  /** The last good revision: all traffic returns to it on a rollback (an undo's target once undone). */
  stable: string;
  /** The revision being rolled out. */
  candidate: string;
  /** Index into spec.rollout.steps. */
  step: number;
  /** When the step began (RFC 3339); absent until the candidate is ready. */
  stepStartedAt?: string;
  /** Time already spent in the step when it was paused. */
  pausedElapsedMs?: number;
  /** The candidate's counts when the step began: the step's figures are the counts since. */
  baseline?: RolloutCounts;
  reason?: string;
  message?: string;
  /** The limit a rolled-back step passed, and what was observed. */
  limit?: { name: 'maxErrorRate' | 'maxLatencyP99Ms'; value: number; observed: number; requests: number };
  /** The transitions decided at this write, each announced once as an event after it. */
  pendingEvents?: RolloutEventRecord[];
}

/** A rollout transition written to status before its event is recorded (a crash between loses nothing). */
export interface RolloutEventRecord {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** When it was decided (RFC 3339): an event of the same reason and message recorded since is this one. */
  decidedAt: string;
}

export interface ProjectRevisions {
  /** The Revision recorded for what the project declares now. */
  latestCreated?: string;
  /** The newest Revision that had an instance pass readiness. */
  latestReady?: string;
}

export interface CrashLoopStatus {
  /** The spec the loop belongs to: a changed spec starts over. */
  specHash: string;
  /** Crashes in a row. */
  crashes: number;
  exitCode?: number;
  /** The app's last log lines, oldest first. */
  lastLines: string[];
  backoffMs: number;
  /** No start before this time (RFC 3339). */
  retryAt: string;
  /** When an instance last became ready: the loop is over once one has run long enough. */
  readyAt?: string;
}

export interface InstanceLeft {
  id: string;
  name: string;
  state: 'running' | 'paused' | 'stopped';
  /** When it was left so (RFC 3339): for a stopped one, the start of its retention. */
  since: string;
}

// ---------- Image ----------

export interface ImageSpec {
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  ref?: string;
}

export interface ImageStatus extends BaseStatus {
  phase?: 'Pending' | 'Building' | 'Ready' | 'Failed';
  /** The last image that was ready: what projects run. */
  image?: string;
  /** The tag the current spec and context map to (the last build or pull attempted). */
  tag?: string;
  buildLog?: string;
  buildDurationSeconds?: number;
}

// ---------- Lease ----------

export interface LeaseSpec {
  project: string;
  ttl: string;
  resources?: ResourceRequirements;
  env?: Record<string, EnvValue>;
  idleTimeout?: string;
}

export interface LeaseStatus extends BaseStatus {
  phase?: 'Pending' | 'Active' | 'Expired' | 'Released' | 'Failed';
  /** When the lease was admitted (under its caps) and its container was being claimed or started. */
  admittedAt?: string;
  /** When the container became the lease's: claimed from the pool or started. The bill starts here. */
  startedAt?: string;
  expiresAt?: string;
  /** When the container stopped. The bill ends here. */
  endedAt?: string;
  /** Why it ended: Expired, Released (deleted), IdleTimeout, ContainerLost, StartFailed. */
  endReason?: string;
  estimatedCost?: number;
  cost?: number;
  currency?: string;
  fromPool?: boolean;
  /** The limits the container runs with. */
  resources?: { cpu: string; memory: string };
  url?: string;
  containerName?: string;
}

// ---------- Secret ----------

/**
 * One key of a Secret. A manifest's `data`/`stringData` become `plain` (base64), which
 * only lives between parsing and sealing (src/secrets/seal.ts); the store holds `digest`
 * and `sealed`, and what is shown holds `digest` alone (src/secrets/redact.ts).
 */
export interface SecretEntry {
  plain?: string;
  digest?: string;
  sealed?: string;
}

/** Manifests write Kubernetes' top-level `type`, `data` and `stringData`; the store keeps them here. */
export interface SecretSpec {
  type?: string;
  data: Record<string, SecretEntry>;
}

// ---------- Revision ----------

/**
 * What a Project ran at one time: the spec fields that shape its containers, and the
 * image they resolved to. Made by the controller, never changed afterwards.
 */
export interface RevisionSpec {
  project: string;
  /** The uid of the project it belongs to: one deleted and made again starts over. */
  projectUid: string;
  /** 1, 2, 3… per project. */
  number: number;
  /** The image reference its containers run (an Image's tag, resolved). */
  image: string;
  /** The project's spec, without the fields that only route or scale it. */
  template: Partial<ProjectSpec>;
}

export interface RevisionStatus extends BaseStatus {
  phase?: 'Pending' | 'Ready' | 'Retired';
  /** When one of its instances first passed readiness. */
  readyAt?: string;
}

// ---------- Objects ----------

interface ObjectOf<K extends Kind, S, St> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  status?: St;
}

export type ProjectObject = ObjectOf<'Project', ProjectSpec, ProjectStatus>;
export type ImageObject = ObjectOf<'Image', ImageSpec, ImageStatus>;
export type LeaseObject = ObjectOf<'Lease', LeaseSpec, LeaseStatus>;
export type SecretObject = ObjectOf<'Secret', SecretSpec, BaseStatus>;
export type RevisionObject = ObjectOf<'Revision', RevisionSpec, RevisionStatus>;
export type LumaObject = ProjectObject | ImageObject | LeaseObject | SecretObject | RevisionObject;

export type SpecOf<K extends Kind> = Extract<LumaObject, { kind: K }>['spec'];
export type StatusOf<K extends Kind> = NonNullable<Extract<LumaObject, { kind: K }>['status']>;
export type ObjectOfKind<K extends Kind> = Extract<LumaObject, { kind: K }>;

/** Where a manifest document came from, for error messages and (later) prune ownership. */
export interface SourceRef {
  file: string;
  /** 0-based index of the document in a multi-document file. */
  document: number;
}

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && (KINDS as readonly string[]).includes(value);
}

/** Accepts `project`, `projects`, `Project`, and the short forms `proj`, `img`. */
export function kindFromUserInput(input: string): Kind | undefined {
  const lower = input.toLowerCase();
  for (const kind of KINDS) {
    if (lower === kind.toLowerCase() || lower === KIND_PLURALS[kind]) return kind;
  }
  const shortForms: Record<string, Kind> = { proj: 'Project', img: 'Image', ls: 'Lease', rev: 'Revision' };
  return shortForms[lower];
}
