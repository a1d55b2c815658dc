import { readFile } from 'node:fs/promises';
import type { ImageObject, LeaseObject, LumaObject, ProjectObject } from '../../../src/model/types.js';
import { DockerRuntime } from '../../../src/runtime/docker-runtime.js';
import type { ManagedContainer } from '../../../src/runtime/runtime.js';
import { ledgerPath } from '../../../src/usage/ledger.js';
import { apiCall } from '../api.js';
import type { ApiEndpoint } from '../luma.js';

// What must hold after a controller was killed at any moment and started again (SPEC §5:
// nothing is lost). Each check returns the violations it found, in words; none means it
// holds. Some hold at every instant (a lease billed twice is never acceptable); the rest
// hold once the restarted controller has converged, so the harness polls them.

export interface LeaseHistory {
  /** Every lease uid the workload created, with its name. */
  created: Map<string, string>;
  /** Uids seen with status.startedAt: their containers ran, so their end must be billed. */
  started: Set<string>;
}

export interface ClusterView {
  projects: ProjectObject[];
  images: ImageObject[];
  leases: LeaseObject[];
  containers: ManagedContainer[];
  /** Ledger records per lease uid, read straight from the file. */
  ledgerCounts: Map<string, number>;
}

const ENDED_PHASES = new Set(['Expired', 'Released', 'Failed']);
const LIVE_STATES = new Set(['running', 'paused', 'restarting', 'created']);

async function listKind<T>(api: ApiEndpoint, plural: string): Promise<T[]> {
  const answer = await apiCall(api, 'GET', `/api/v1alpha1/${plural}`, { timeoutMs: 5_000 });
  if (answer.status !== 200) throw new Error(`GET ${plural}: HTTP ${answer.status} ${answer.text}`);
  return (answer.json as { items: T[] }).items;
}

/** Counts records per lease uid; a torn last line (a crash mid-append) is not a record. */
export async function readLedgerCounts(stateDir: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const content = await readFile(ledgerPath(stateDir), 'utf8').catch(() => '');
  for (const line of content.split('\n')) {
    if (line.trim() === '') continue;
    let record: { leaseUid?: unknown };
    try {
      record = JSON.parse(line) as { leaseUid?: unknown };
    } catch {
      continue;
    }
    if (typeof record.leaseUid === 'string') counts.set(record.leaseUid, (counts.get(record.leaseUid) ?? 0) + 1);
  }
  return counts;
}

/** Records per lease uid, from wherever the ledger is kept (a file, or PostgreSQL's luma_usage). */
export type LedgerReader = () => Promise<Map<string, number>>;

export async function observe(api: ApiEndpoint, readLedger: LedgerReader, instance: string): Promise<ClusterView> {
  const runtime = new DockerRuntime({ instance });
  const [projects, images, leases, containers, ledgerCounts] = await Promise.all([
    listKind<ProjectObject>(api, 'projects'),
    listKind<ImageObject>(api, 'images'),
    listKind<LeaseObject>(api, 'leases'),
    runtime.list(),
    readLedger(),
  ]);
  return { projects, images, leases, containers, ledgerCounts };
}

/** Never acceptable, at any instant: a lease billed twice. */
export function safetyViolations(view: ClusterView, history: LeaseHistory): string[] {
  const violations: string[] = [];
  for (const [uid, count] of view.ledgerCounts) {
    if (count > 1) violations.push(`lease ${history.created.get(uid) ?? '?'} (uid ${uid}) has ${count} ledger records`);
  }
  return violations;
}

function ownerViolations(view: ClusterView): string[] {
  const uids = new Map<string, string>();
  for (const object of [...view.projects, ...view.leases] as LumaObject[])
    uids.set(`${object.kind}/${object.metadata.name}`, object.metadata.uid ?? '');
  return view.containers
    .filter((container) => uids.get(`${container.owner.kind}/${container.owner.name}`) !== container.owner.uid)
    .map(
      (container) =>
        `container ${container.name} (${container.state}) has no owner: ${container.owner.kind} "${container.owner.name}" uid ${container.owner.uid} is not in the store`,
    );
}

function projectCountViolations(view: ClusterView): string[] {
  const violations: string[] = [];
  for (const project of view.projects) {
    const name = project.metadata.name;
    const mine = view.containers.filter(
      (container) => container.owner.kind === 'Project' && container.owner.name === name,
    );
    const maxInstances = project.spec.scaling?.maxInstances ?? 1;
    const instances = mine.filter((container) => container.role === 'instance');
    const live = instances.filter((container) => LIVE_STATES.has(container.state));
    if (live.length > maxInstances)
      violations.push(`project ${name}: ${live.length} live instances, maxInstances ${maxInstances}`);
    // Stopped instances are kept for a fast restart, one per slot at most.
    if (instances.length > maxInstances)
      violations.push(`project ${name}: ${instances.length} instance containers in all, maxInstances ${maxInstances}`);
    const pool = mine.filter((container) => container.role === 'pool');
    const poolSize = project.spec.pool?.size ?? 0;
    if (pool.length > poolSize)
      violations.push(`project ${name}: ${pool.length} pool containers, pool.size ${poolSize}`);
  }
  return violations;
}

function leaseViolations(view: ClusterView, history: LeaseHistory): string[] {
  const violations: string[] = [];
  const inStore = new Set<string>();
  for (const lease of view.leases) {
    const uid = lease.metadata.uid ?? '';
    inStore.add(uid);
    const name = lease.metadata.name;
    const phase = lease.status?.phase ?? '(none)';
    const mine = view.containers.filter((container) => container.owner.kind === 'Lease' && container.owner.uid === uid);
    const records = view.ledgerCounts.get(uid) ?? 0;
    if (lease.metadata.deletionTimestamp) violations.push(`lease ${name}: still terminating`);
    if (phase === 'Active') {
      if (mine.length !== 1 || mine[0]?.state !== 'running')
        violations.push(
          `lease ${name}: Active with ${mine.map((container) => container.state).join(',') || 'no'} container(s)`,
        );
      if (records !== 0) violations.push(`lease ${name}: Active yet billed (${records} record(s))`);
    } else if (ENDED_PHASES.has(phase)) {
      if (mine.length > 0) violations.push(`lease ${name}: ${phase} yet ${mine.length} container(s) remain`);
      const expected = lease.status?.startedAt ? 1 : 0;
      if (records !== expected)
        violations.push(
          `lease ${name}: ${phase}, ${lease.status?.startedAt ? 'started' : 'never started'}, ${records} ledger record(s) (expected ${expected})`,
        );
    } else {
      violations.push(`lease ${name}: ${phase}, neither live nor ended`);
    }
  }
  for (const [uid, name] of history.created) {
    if (inStore.has(uid)) continue;
    const records = view.ledgerCounts.get(uid) ?? 0;
    if (history.started.has(uid) && records !== 1)
      violations.push(`deleted lease ${name} (uid ${uid}) ran but has ${records} ledger record(s)`);
    if (records > 1) violations.push(`deleted lease ${name} (uid ${uid}) has ${records} ledger records`);
  }
  return violations;
}

function convergenceViolations(view: ClusterView): string[] {
  const violations: string[] = [];
  for (const object of [...view.projects, ...view.images, ...view.leases] as LumaObject[]) {
    const label = `${object.kind} ${object.metadata.name}`;
    const status = object.status as { observedGeneration?: number; phase?: string } | undefined;
    if (status?.observedGeneration !== object.metadata.generation) {
      violations.push(
        `${label}: observedGeneration ${status?.observedGeneration} of generation ${object.metadata.generation}`,
      );
    }
  }
  for (const image of view.images) {
    if (image.status?.phase !== 'Ready')
      violations.push(`Image ${image.metadata.name}: ${image.status?.phase ?? 'no phase'}`);
  }
  for (const project of view.projects) {
    const phase = project.status?.phase;
    if (phase !== 'Idle' && phase !== 'Running')
      violations.push(`Project ${project.metadata.name}: ${phase ?? 'no phase'}`);
  }
  return violations;
}

/** Everything that must hold once the controller has converged after a restart. */
export function convergedViolations(view: ClusterView, history: LeaseHistory): string[] {
  return [
    ...safetyViolations(view, history),
    ...ownerViolations(view),
    ...projectCountViolations(view),
    ...leaseViolations(view, history),
    ...convergenceViolations(view),
  ];
}

/** Remembers which leases ran, from what the API shows. */
export function recordHistory(view: ClusterView, history: LeaseHistory): void {
  for (const lease of view.leases) {
    const uid = lease.metadata.uid ?? '';
    history.created.set(uid, lease.metadata.name);
    if (lease.status?.startedAt) history.started.add(uid);
  }
}
