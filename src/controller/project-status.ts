import type {
  CrashLoopStatus,
  InstanceLeft,
  ProjectObject,
  ProjectRevisions,
  ProjectStatus,
  RolloutStatus,
  TrafficTarget,
} from '../model/types.js';
import type { ProjectSettings } from '../model/project-settings.js';
import type { ServiceInfo } from '../proxy/management.js';
import type { ObjectStore } from '../store/store.js';
import { certificateCondition } from './certificate-condition.js';
import { setCondition, setReadiness } from './conditions.js';
import { readinessFor, type Failure } from './project-reasons.js';
import { withTagUrls } from './traffic.js';
import { rolloutCondition } from './rollout.js';

// A Project's status, built by a pure function from what one reconcile saw and did, and
// written in one step. The fields a restarted controller needs (crashLoop, evictedAt,
// instancesLeft) are carried over unless the reconcile says otherwise; status.pool is the
// pool reconciler's and always kept.

export interface StatusFacts {
  phase: NonNullable<ProjectStatus['phase']>;
  serving: number;
  starting: number;
  paused: number;
  stopped: number;
  failure?: Failure | undefined;
  lastActivityAt?: number | undefined;
  /** What the proxy reported this reconcile (its certificates, for CertificateReady); absent: the last condition stands. */
  service?: ServiceInfo | undefined;
  /** `null` clears the field; absent keeps it. */
  crashLoop?: CrashLoopStatus | null;
  evictedAt?: string | null;
  instancesLeft?: InstanceLeft[];
  /** Absent keeps what status said. */
  revisions?: ProjectRevisions;
  /** The rollout's state and the split it routes (rollout-driver.ts); `null` clears, absent keeps. */
  rollout?: RolloutStatus | null;
  traffic?: TrafficTarget[] | null;
}

export function buildProjectStatus(
  project: ProjectObject,
  previous: ProjectStatus,
  settings: ProjectSettings,
  facts: StatusFacts,
  context: { now: number; publicUrl: (host: string, tls?: boolean) => string },
): ProjectStatus {
  const now = new Date(context.now);
  const readiness = readinessFor(facts.phase, facts.serving, facts.failure);
  let conditions = setReadiness(previous.conditions, readiness, now);
  if (settings.tls) {
    if ('service' in facts) conditions = setCondition(conditions, certificateCondition(facts.service), now);
  } else conditions = conditions.filter((condition) => condition.type !== 'CertificateReady');
  const firstHost = settings.hostnames[0];
  const lastRequestAt =
    facts.lastActivityAt !== undefined ? new Date(facts.lastActivityAt).toISOString() : previous.lastRequestAt;
  const crashLoop = facts.crashLoop === undefined ? previous.crashLoop : (facts.crashLoop ?? undefined);
  const evictedAt = facts.evictedAt === undefined ? previous.evictedAt : (facts.evictedAt ?? undefined);
  const instancesLeft = facts.instancesLeft ?? previous.instancesLeft;
  const revisions = facts.revisions ?? previous.revisions;
  const rollout = facts.rollout === undefined ? previous.rollout : (facts.rollout ?? undefined);
  const traffic = facts.traffic === undefined ? previous.traffic : (facts.traffic ?? undefined);
  conditions = rollout
    ? setCondition(conditions, rolloutCondition(rollout), now)
    : conditions.filter((condition) => condition.type !== 'Rollout');
  return {
    observedGeneration: project.metadata.generation ?? 0,
    phase: facts.phase,
    conditions,
    instances: { running: facts.serving, starting: facts.starting, stopped: facts.stopped, paused: facts.paused },
    image: settings.image,
    ...(firstHost ? { url: context.publicUrl(firstHost, settings.tls) } : {}),
    ...(lastRequestAt ? { lastRequestAt } : {}),
    ...(crashLoop ? { crashLoop } : {}),
    ...(evictedAt ? { evictedAt } : {}),
    ...(instancesLeft ? { instancesLeft } : {}),
    ...(revisions ? { revisions } : {}),
    ...(traffic ? { traffic: withTagUrls(traffic, project, context.publicUrl) } : {}),
    ...(rollout ? { rollout } : {}),
  };
}

/** Writes status in one step, keeping what the pool reconciler wrote. */
export async function writeProjectStatus(store: ObjectStore, name: string, status: ProjectStatus): Promise<void> {
  await store.mutateStatus('Project', name, (current) => ({
    ...status,
    ...(current.status?.pool ? { pool: current.status.pool } : {}),
  }));
}

/** Changes only the fields a fast path decided (an eviction, a resume), under the project's lock. */
export async function patchProjectStatus(
  store: ObjectStore,
  name: string,
  patch: (current: ProjectStatus) => Partial<ProjectStatus>,
): Promise<void> {
  await store.mutateStatus('Project', name, (current) => ({
    ...current.status,
    ...patch(current.status ?? {}),
  }));
}
