import {
  BUILT_IN_PROJECT_SETTINGS,
  plainEnv,
  secretEnvOf,
  type ProjectSettings,
  type ProjectSettingsResolver,
} from '../model/project-settings.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { resolveSecretEnv } from '../secrets/secret-env.js';
import { addressOf, hostOf } from './project-route.js';
import { openedSecrets, scrubbingSecrets } from '../secrets/scrub.js';
import type { EnvValue, SecretKeyRef } from '../model/types.js';
import { formatCpu, formatMemory, parseDuration } from '../model/quantities.js';
import type { LeaseObject, LeaseStatus, ProjectObject } from '../model/types.js';
import type { ProxyManagement, ServiceInfo } from '../proxy/management.js';
import { errorMessage } from '../util/error-message.js';
import type { OwnerRef } from '../runtime/labels.js';
import type { ContainerRuntime, ManagedContainer, ResourceLimits } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import { waitUntilReady } from '../util/readiness-probe.js';
import type { ReadinessProber } from './instance-lifecycle.js';
import { setReadiness, type Readiness } from './conditions.js';
import { resolveProjectImage } from './image-resolution.js';
import type { KeyedLock } from '../util/keyed-lock.js';
import type { LeasePolicy, UsageSink } from './lease-policy.js';
import { leaseHostname } from '../apply/hostname-admission.js';
import { leaseResources } from '../model/lease-resources.js';
import { IMAGE_NOT_ALLOWED, imageNotAllowed } from './image-policy.js';
import { estimatedLeaseCost, leaseCost, runtimeSecondsBetween } from '../usage/cost.js';
import type { UsageReason } from '../usage/record.js';
import { admitInOrder, isEnded, type LeaseCaps } from './lease-queue.js';
import type { EventRecorder } from '../events/event-log.js';
import { poolTemplate, type PoolReconciler, type PoolTemplate } from './pool-reconciler.js';
import { processOf } from './project-route.js';
import { ADMISSION_RETRY_MS, IMAGE_RECHECK_MS, MIN_REQUEUE_MS } from './requeue.js';
import { INSUFFICIENT_MEMORY, InsufficientMemoryError, startAdmitted, type MemoryBudget } from './memory-budget.js';
import type { ReconcileResult } from './work-queue.js';
import { NO_CONTROLLER_METRICS, type ControllerMetrics } from '../metrics/controller-metrics.js';
import type { ObservedContainers } from './container-sightings.js';

// Converges one Lease: admits it under the caps (first come, first served), gives it a
// container (claimed from its project's pool, or started fresh), routes
// `<lease>.<first project hostname>` to it, and ends it at expiry, on release (delete)
// or after its idle timeout: SIGTERM, SIGKILL after the grace period, container removed,
// the bill written to the usage ledger. Every step is written down before the next, so
// a controller killed at any moment picks up where it stopped, and bills the real runtime.

export const LEASE_FINALIZER = 'luma.dev/lease';

export function leaseService(leaseName: string): string {
  return `lease.${leaseName}`;
}

/** The lease a proxy service name stands for, if it is a lease's. */
export function leaseOfService(service: string): string | undefined {
  return service.startsWith('lease.') ? service.slice('lease.'.length) : undefined;
}

/** The route holds exactly this host (the proxy keeps hosts lower-cased). */
function routesOnly(info: ServiceInfo, host: string): boolean {
  return info.hosts.length === 1 && info.hosts[0] === host.toLowerCase();
}

export interface LeaseReconcilerOptions {
  store: ObjectStore;
  runtime: ContainerRuntime;
  proxy: ProxyManagement;
  logger: Logger;
  policy: LeasePolicy;
  ledger: UsageSink;
  events: EventRecorder;
  metrics?: ControllerMetrics;
  pools: PoolReconciler;
  poolLock: KeyedLock;
  /** Admission decisions one at a time, so two leases never take the last free place. */
  admissionLock: KeyedLock;
  /** Asks for a reconcile of a key (`Pool/NAME` after a claim, waiting leases after one ends). */
  enqueue: (key: string) => void;
  publicUrl: (host: string) => string;
  /** Specs resolved with the operator's defaults; Luma's own when absent. */
  projectSettings?: ProjectSettingsResolver;
  now?: () => number;
  /** Admission by memory for fresh containers; every start is admitted when absent. */
  memory?: MemoryBudget;
  /** The readiness probe (HTTP or TCP on loopback); unit tests inject one. */
  probe?: ReadinessProber;
  /** Opens the values of variables taken from Secrets (the project's and the lease's own). */
  secrets?: SecretBox;
}

type EndReason = UsageReason;

/** The container a starting lease got, and how. */
interface LeaseContainer {
  container: ManagedContainer;
  fromPool: boolean;
  /** Found running: started or claimed before a crash, before Active was written. */
  adopted: boolean;
}

export class LeaseReconciler {
  private readonly now: () => number;
  private readonly probe: ReadinessProber;

  constructor(private readonly options: LeaseReconcilerOptions) {
    this.now = options.now ?? Date.now;
    this.probe = options.probe ?? waitUntilReady;
  }

  /** `observed`: the containers a resync saw, read instead of asking the engine while still current. */
  async reconcile(name: string, observed?: ObservedContainers): Promise<ReconcileResult> {
    const { store, runtime } = this.options;
    const lease = store.get('Lease', name);
    // Containers are made only after admission is written down: before it, there are none
    // of this lease to find, and a first claim need not wait for a listing.
    const containers =
      lease && !lease.status?.admittedAt && !lease.metadata.deletionTimestamp
        ? []
        : (observed?.list({ kind: 'Lease', name }) ?? (await runtime.list({ kind: 'Lease', name })));
    if (!lease) {
      // No object, yet containers or a route: what a lease left behind (garbage).
      await this.removeRoute(name);
      await Promise.all(containers.map((container) => runtime.remove(container.id)));
      if (containers.length > 0)
        this.options.logger.info(
          { lease: name, removed: containers.length },
          'removed containers of a lease that no longer exists',
        );
      return;
    }
    const mine = containers.filter((container) => container.owner.uid === lease.metadata.uid);
    await Promise.all(
      containers.filter((container) => !mine.includes(container)).map((container) => runtime.remove(container.id)),
    );

    const status = lease.status ?? {};
    if (lease.metadata.deletionTimestamp) {
      if (!isEnded(status)) await this.end(lease, mine, 'Released');
      else await this.cleanUp(lease, mine);
      await store.setFinalizers(
        'Lease',
        name,
        (lease.metadata.finalizers ?? []).filter((finalizer) => finalizer !== LEASE_FINALIZER),
      );
      return;
    }
    if (isEnded(status)) {
      await this.cleanUp(lease, mine);
      return;
    }
    if (!(lease.metadata.finalizers ?? []).includes(LEASE_FINALIZER)) {
      // Before any container exists: from here on, a delete waits for the bill.
      await store.setFinalizers('Lease', name, [...(lease.metadata.finalizers ?? []), LEASE_FINALIZER]);
    }
    // A crash after the container stopped, before the bill: finish ending.
    if (status.endedAt)
      return void (await this.end(lease, mine, (status.endReason as EndReason | undefined) ?? 'Expired'));

    // A project being deleted is gone for its leases: they end (or never start) at once.
    const stored = store.get('Project', lease.spec.project);
    const project = stored?.metadata.deletionTimestamp ? undefined : stored;
    if (status.startedAt) return this.keepActive(lease, project, mine);
    if (!project) return this.wait(lease, 'ProjectNotFound', `project "${lease.spec.project}" does not exist`);
    if (!status.admittedAt && !(await this.admitRouted(lease, project))) return;
    return this.start(lease, project, mine);
  }

  /**
   * Admission, with the lease's hostname routed around it. Routed before anything else: a
   * request sent right after the lease was created is held (not a 404) and answered the
   * moment its container is there. A route already in place is left as it is until
   * admission has decided, so a waiting lease's route does not flap between held and
   * "waiting for capacity" on every look. False when the lease waits.
   */
  private async admitRouted(lease: LeaseObject, project: ProjectObject): Promise<boolean> {
    const current = await this.options.proxy.getService(leaseService(lease.metadata.name));
    if (!current || !routesOnly(current, this.leaseHost(lease, project))) await this.routeWithoutTarget(lease, project);
    const refusal = await this.admit(lease, project);
    if (refusal === undefined) {
      await this.routeWithoutTarget(lease, project);
      return true;
    }
    if (lease.status?.conditions?.find((condition) => condition.type === 'Ready')?.reason !== 'WaitingForCapacity')
      this.options.events.record(this.ref(lease), 'Normal', 'WaitingForCapacity', refusal);
    const why = `lease "${lease.metadata.name}" is waiting for capacity: ${refusal}`;
    await this.routeWithoutTarget(lease, project, why);
    await this.wait(lease, 'WaitingForCapacity', refusal);
    return false;
  }

  /** Undefined when admitted; otherwise why it waits. */
  private admit(lease: LeaseObject, project: ProjectObject): Promise<string | undefined> {
    return this.options.admissionLock.run('leases', async () => {
      const { store, policy } = this.options;
      const current = store.get('Lease', lease.metadata.name);
      if (current?.status?.admittedAt) return undefined;
      const caps: LeaseCaps = {
        total: policy.maxActiveLeases,
        perProject: (projectName) =>
          projectName === project.metadata.name
            ? project.spec.leases?.maxConcurrent
            : store.get('Project', projectName)?.spec.leases?.maxConcurrent,
      };
      const verdict = admitInOrder(store.list('Lease'), lease.metadata.name, caps);
      if (!verdict.admitted) return verdict.reason;
      await this.patchStatus(
        lease,
        { phase: 'Pending', admittedAt: new Date(this.now()).toISOString(), ...this.estimate(lease) },
        {
          state: 'reconciling',
          reason: 'Starting',
          message: 'claiming a pooled container or starting one',
        },
      );
      return undefined;
    });
  }

  /** The phases of a start: the image, a container (adopted, claimed or fresh), ready and routed, Active written. */
  private async start(lease: LeaseObject, project: ProjectObject, mine: ManagedContainer[]): Promise<ReconcileResult> {
    const began = this.now();
    const image = resolveProjectImage(this.options.store, project.spec.image);
    if ('waitingFor' in image) {
      await this.wait(lease, 'ImageNotReady', image.waitingFor);
      return { requeueAfterMs: IMAGE_RECHECK_MS };
    }
    const refused = imageNotAllowed(image.ref, project.spec.image, this.options.policy.imageAllowlist);
    if (refused !== undefined && mine.length === 0) return void (await this.fail(lease, IMAGE_NOT_ALLOWED, refused));
    const missing = mine.length === 0 ? this.missingSecret(lease, project, image.ref) : undefined;
    if (missing !== undefined) {
      // Its bill has not started: it waits, Pending, until the Secret exists.
      await this.wait(lease, 'SecretNotFound', `${missing}; the lease starts once it exists`);
      return { requeueAfterMs: IMAGE_RECHECK_MS };
    }
    let got: LeaseContainer;
    try {
      got = await this.containerFor(lease, project, image.ref, mine);
    } catch (error) {
      // Its bill has not started: it waits, Pending, until the host has room.
      if (!(error instanceof InsufficientMemoryError)) throw error;
      await this.wait(lease, INSUFFICIENT_MEMORY, error.message);
      return { requeueAfterMs: ADMISSION_RETRY_MS };
    }
    if (!(await this.readyAndRouted(lease, project, got))) return;
    return this.activate(lease, project, got, began);
  }

  /**
   * Its container: one found running (a crash came after the claim or start and before
   * Active was written), else a ready one claimed from the pool (not for a lease with env
   * of its own), else a fresh one.
   */
  private async containerFor(
    lease: LeaseObject,
    project: ProjectObject,
    imageRef: string,
    mine: ManagedContainer[],
  ): Promise<LeaseContainer> {
    const running = mine.find((candidate) => candidate.state === 'running');
    if (running) return { container: running, fromPool: running.claimedFromPool ?? false, adopted: true };
    await Promise.all(mine.map((stale) => this.options.runtime.remove(stale.id)));
    const limits = this.limitsOf(lease);
    const owner: OwnerRef = { kind: 'Lease', name: lease.metadata.name, uid: lease.metadata.uid ?? '' };
    const claimed =
      Object.keys(lease.spec.env ?? {}).length === 0
        ? await this.claimFromPool(project, imageRef, owner, limits)
        : undefined;
    if (claimed) return { container: claimed, fromPool: true, adopted: false };
    const fresh = await this.startFresh(lease, project, imageRef, owner, limits);
    return { container: fresh, fromPool: false, adopted: false };
  }

  /** Probed (a pooled container passed its probe before it was claimed) and routed; false when the lease failed. */
  private async readyAndRouted(lease: LeaseObject, project: ProjectObject, got: LeaseContainer): Promise<boolean> {
    const { container } = got;
    const settings = this.settingsOf(project);
    if (!container.hostPort)
      throw new Error(`lease ${lease.metadata.name}: container ${container.name} has no published port`);
    try {
      if (!got.fromPool || got.adopted)
        await this.probe(hostOf(container), container.hostPort, settings.readiness, settings.startupTimeoutMs);
    } catch (error) {
      await this.options.runtime.remove(container.id).catch(() => undefined);
      await this.fail(lease, 'StartFailed', `the container did not become ready: ${errorMessage(error)}`);
      return false;
    }
    try {
      await this.options.proxy.deploy({
        service: leaseService(lease.metadata.name),
        hosts: [this.leaseHost(lease, project)],
        targets: [addressOf(container)],
        startupTimeoutMs: settings.startupTimeoutMs,
      });
    } catch (error) {
      await this.options.runtime.remove(container.id).catch(() => undefined);
      await this.fail(lease, 'RouteFailed', errorMessage(error));
      return false;
    }
    return true;
  }

  /** Active written; an adopted container's bill starts at admission, which came just before (never later than the truth). */
  private async activate(
    lease: LeaseObject,
    project: ProjectObject,
    { container, fromPool, adopted }: LeaseContainer,
    began: number,
  ): Promise<ReconcileResult> {
    const startedAt = adopted ? Date.parse(lease.status?.admittedAt ?? '') || this.now() : this.now();
    const ttlMs = parseDuration(lease.spec.ttl);
    const limits = this.limitsOf(lease);
    const how = fromPool ? 'claimed from the pool' : 'started';
    await this.patchStatus(
      lease,
      {
        phase: 'Active',
        startedAt: new Date(startedAt).toISOString(),
        expiresAt: lease.status?.expiresAt ?? new Date(startedAt + ttlMs).toISOString(),
        fromPool,
        containerName: container.name,
        url: this.options.publicUrl(this.leaseHost(lease, project)),
        resources: { cpu: formatCpu(limits.cpuMillis), memory: formatMemory(limits.memoryBytes) },
      },
      { state: 'ready', reason: 'Active', message: `dedicated container ${how}` },
    );
    this.options.logger.info(
      { lease: lease.metadata.name, project: project.metadata.name, fromPool, ms: this.now() - began },
      'lease active',
    );
    (this.options.metrics ?? NO_CONTROLLER_METRICS).leaseStarted(project.metadata.name, fromPool ? 'pool' : 'fresh');
    const expires = new Date(startedAt + ttlMs).toISOString();
    const reason = fromPool ? 'ClaimedFromPool' : 'Started';
    this.options.events.record(
      this.ref(lease),
      'Normal',
      reason,
      `container ${container.name} ${how}; expires at ${expires}`,
    );
    return { requeueAfterMs: Math.max(MIN_REQUEUE_MS, ttlMs) };
  }

  /** A ready pool container, set to the lease's limits and renamed for it; undefined when none can be had. */
  private claimFromPool(
    project: ProjectObject,
    imageRef: string,
    owner: OwnerRef,
    limits: ResourceLimits,
  ): Promise<ManagedContainer | undefined> {
    const { runtime, pools, logger } = this.options;
    return this.options.poolLock.run(project.metadata.name, async () => {
      const template = this.template(project, imageRef);
      if ('missingSecret' in template) return undefined;
      const candidate = pools.readyFor(project.metadata.uid ?? '', template.hash)[0];
      if (!candidate) return undefined;
      if (limits.cpuMillis !== template.cpuMillis || limits.memoryBytes !== template.memoryBytes) {
        try {
          await runtime.updateLimits(candidate.id, limits);
        } catch (error) {
          // The container stays in the pool, with its limits as they were.
          await runtime
            .updateLimits(candidate.id, { cpuMillis: template.cpuMillis, memoryBytes: template.memoryBytes })
            .catch(() => undefined);
          logger.warn(
            { project: project.metadata.name, err: errorMessage(error) },
            'could not set a pool container to the lease limits; starting a fresh one',
          );
          return undefined;
        }
      }
      let claimed: ManagedContainer;
      try {
        claimed = await runtime.claim(candidate, owner);
      } finally {
        // Claimed, or gone from under us: either way no longer the pool's.
        pools.forget(candidate.id);
      }
      this.options.enqueue(`Pool/${project.metadata.name}`);
      return claimed;
    });
  }

  private template(project: ProjectObject, imageRef: string): ReturnType<typeof poolTemplate> {
    const { store, policy, secrets, projectSettings } = this.options;
    return poolTemplate(project, imageRef, policy, projectSettings, { store, box: secrets });
  }

  /** A Secret or key that the project's or the lease's env reads and that does not exist (yet). */
  private missingSecret(lease: LeaseObject, project: ProjectObject, imageRef: string): string | undefined {
    const template = this.template(project, imageRef);
    if ('missingSecret' in template) return template.missingSecret;
    const own = resolveSecretEnv(this.options.store, this.options.secrets, secretEnvOf(lease.spec.env ?? {}));
    return 'missing' in own ? own.missing : undefined;
  }

  private async startFresh(
    lease: LeaseObject,
    project: ProjectObject,
    imageRef: string,
    owner: OwnerRef,
    limits: ResourceLimits,
  ): Promise<ManagedContainer> {
    const template = this.template(project, imageRef);
    const own = resolveSecretEnv(this.options.store, this.options.secrets, secretEnvOf(lease.spec.env ?? {}));
    if ('missingSecret' in template || 'missing' in own)
      throw new Error(`lease ${lease.metadata.name}: a secret went missing while it started`);
    const env = sortedEnv({ ...template.settings.env, ...plainEnv(lease.spec.env ?? {}), ...own.env });
    // The engine's error may quote a variable it refused: no secret value goes further.
    const opened = openedSecrets(env, secretRefsOf(template.settings.secretEnv, lease.spec.env ?? {}));
    return scrubbingSecrets(opened, () => this.createAndStart(owner, imageRef, template, env, limits));
  }

  private createAndStart(
    owner: OwnerRef,
    imageRef: string,
    template: PoolTemplate,
    env: Record<string, string>,
    limits: ResourceLimits,
  ): Promise<ManagedContainer> {
    const { runtime } = this.options;
    return startAdmitted(this.options.memory, `Lease/${owner.name}`, limits.memoryBytes, async () => {
      const created = await runtime.create({
        owner,
        role: 'lease',
        specHash: template.hash,
        image: imageRef,
        port: template.settings.port,
        env,
        ...processOf(template.settings),
        capabilities: template.settings.capabilities,
        cpuMillis: limits.cpuMillis,
        memoryBytes: limits.memoryBytes,
      });
      return runtime.start(created.id);
    });
  }

  private async keepActive(
    lease: LeaseObject,
    project: ProjectObject | undefined,
    mine: ManagedContainer[],
  ): Promise<ReconcileResult> {
    const status = lease.status ?? {};
    const now = this.now();
    const expiresAt = Date.parse(status.expiresAt ?? '') || now;
    if (now >= expiresAt) return void (await this.end(lease, mine, 'Expired'));
    if (!project) return void (await this.end(lease, mine, 'Failed', `project "${lease.spec.project}" was deleted`));

    let container = mine[0];
    if (!container) return void (await this.end(lease, mine, 'Failed', 'its container is gone (removed outside Luma)'));
    if (container.state === 'exited' || container.state === 'created') {
      // The app exited: its container is its own, so start it again, as Docker Compose would.
      container = await this.options.runtime.start(container.id);
    } else if (container.state === 'paused') {
      await this.options.runtime.unpause(container.id);
    }
    if (!container.hostPort) return void (await this.end(lease, mine, 'Failed', 'its container has no published port'));

    const settings = this.settingsOf(project);
    const service = leaseService(lease.metadata.name);
    const target = addressOf(container);
    const host = this.leaseHost(lease, project);
    const info = await this.options.proxy.getService(service);
    // The host follows the project's first hostname: a project that gave its name away moves its leases too.
    if (!info || info.targets.length !== 1 || info.targets[0]?.address !== target || !routesOnly(info, host)) {
      await this.options.proxy.deploy({
        service,
        hosts: [host],
        targets: [target],
        startupTimeoutMs: settings.startupTimeoutMs,
      });
    }

    let nextCheck = expiresAt;
    if (lease.spec.idleTimeout) {
      const idleMs = parseDuration(lease.spec.idleTimeout);
      const activity = info?.activity;
      const busy = (activity?.inFlight ?? 0) > 0;
      const lastActive = Math.max(Date.parse(status.startedAt ?? '') || now, activity?.lastActivityAt ?? 0);
      if (!busy && now - lastActive >= idleMs) return void (await this.end(lease, mine, 'IdleTimeout'));
      nextCheck = Math.min(nextCheck, busy ? now + idleMs : lastActive + idleMs);
    }
    return { requeueAfterMs: Math.max(MIN_REQUEUE_MS, nextCheck - now + 1) };
  }

  /**
   * SIGTERM, SIGKILL after the grace period, the stop time written down, the container
   * removed, the bill appended to the ledger, and the phase set, in that order.
   */
  private async end(lease: LeaseObject, mine: ManagedContainer[], reason: EndReason, detail?: string): Promise<void> {
    const { runtime, policy, logger } = this.options;
    await this.removeRoute(lease.metadata.name);
    let status = lease.status ?? {};
    if (!status.endedAt) {
      const graceSeconds = Math.ceil(policy.leaseGracePeriodMs / 1000);
      await Promise.all(
        mine
          .filter((container) => container.state !== 'exited')
          .map((container) => runtime.stop(container.id, graceSeconds)),
      );
      status =
        (await this.patchStatus(lease, { endedAt: new Date(this.now()).toISOString(), endReason: reason }))?.status ??
        status;
    }
    await Promise.all(mine.map((container) => runtime.remove(container.id)));

    const phase: LeaseStatus['phase'] = reason === 'Expired' ? 'Expired' : reason === 'Failed' ? 'Failed' : 'Released';
    const finalReason = (status.endReason as EndReason | undefined) ?? reason;
    let cost = 0;
    if (status.startedAt && status.endedAt) {
      const limits = this.limitsOf(lease);
      const runtimeSeconds = runtimeSecondsBetween(new Date(status.startedAt), new Date(status.endedAt));
      cost = leaseCost(runtimeSeconds, limits.cpuMillis, limits.memoryBytes, policy.prices);
      await this.options.ledger.append({
        lease: lease.metadata.name,
        leaseUid: lease.metadata.uid ?? '',
        project: lease.spec.project,
        startedAt: status.startedAt,
        endedAt: status.endedAt,
        runtimeSeconds,
        cpuMillis: limits.cpuMillis,
        memoryBytes: limits.memoryBytes,
        cost,
        currency: policy.prices.currency,
        reason: finalReason,
        fromPool: status.fromPool ?? false,
      });
    }
    const message = detail ?? endMessage(finalReason);
    await this.patchStatus(
      lease,
      { phase, cost, currency: policy.prices.currency },
      { state: finalReason === 'Failed' ? 'stalled' : 'ended', reason: finalReason, message },
    );
    logger.info({ lease: lease.metadata.name, project: lease.spec.project, reason: finalReason, cost }, 'lease ended');
    this.options.events.record(
      this.ref(lease),
      finalReason === 'Failed' ? 'Warning' : 'Normal',
      finalReason,
      `${message}; cost ${cost} ${policy.prices.currency}`,
    );
    this.wakeWaitingLeases();
  }

  /** An ended lease keeps its object (and its bill) until deleted; nothing else of it may remain. */
  private async cleanUp(lease: LeaseObject, mine: ManagedContainer[]): Promise<void> {
    await this.removeRoute(lease.metadata.name);
    await Promise.all(mine.map((container) => this.options.runtime.remove(container.id)));
  }

  private async fail(lease: LeaseObject, reason: string, message: string): Promise<void> {
    await this.patchStatus(lease, { phase: 'Failed', endReason: reason }, { state: 'stalled', reason, message });
    this.options.logger.warn({ lease: lease.metadata.name, reason, message }, 'lease failed');
    this.options.events.record(this.ref(lease), 'Warning', reason, message);
    this.wakeWaitingLeases();
  }

  /**
   * The lease's hostname with no target: requests are held until the container is ready,
   * or, with a reason, answered 503 with it at once (a lease waiting for capacity).
   */
  private async routeWithoutTarget(
    lease: LeaseObject,
    project: ProjectObject,
    unavailableReason?: string,
  ): Promise<void> {
    const service = leaseService(lease.metadata.name);
    const current = await this.options.proxy.getService(service);
    if (
      current &&
      current.targets.length === 0 &&
      current.unavailableReason === unavailableReason &&
      routesOnly(current, this.leaseHost(lease, project))
    )
      return;
    const settings = this.settingsOf(project);
    await this.options.proxy.deploy({
      service,
      hosts: [this.leaseHost(lease, project)],
      targets: [],
      startupTimeoutMs: settings.startupTimeoutMs,
      ...(unavailableReason ? { unavailableReason } : {}),
    });
  }

  private async wait(lease: LeaseObject, reason: string, message: string): Promise<ReconcileResult> {
    await this.patchStatus(
      lease,
      { phase: 'Pending', ...(lease.status?.estimatedCost === undefined ? this.estimate(lease) : {}) },
      { state: 'reconciling', reason, message },
    );
    return;
  }

  private ref(lease: LeaseObject): { kind: 'Lease'; name: string } {
    return { kind: 'Lease', name: lease.metadata.name };
  }

  private wakeWaitingLeases(): void {
    for (const other of this.options.store.list('Lease')) {
      if (!other.status?.admittedAt && !isEnded(other.status ?? {}))
        this.options.enqueue(`Lease/${other.metadata.name}`);
    }
  }

  private async removeRoute(leaseName: string): Promise<void> {
    const service = leaseService(leaseName);
    if (await this.options.proxy.getService(service)) await this.options.proxy.remove(service);
  }

  private estimate(lease: LeaseObject): Partial<LeaseStatus> {
    const { prices } = this.options.policy;
    return { estimatedCost: estimatedLeaseCost(lease.spec, this.options.policy), currency: prices.currency };
  }

  private limitsOf(lease: LeaseObject): ResourceLimits {
    const { cpuMillis, memoryBytes } = leaseResources(lease.spec, this.options.policy);
    return { cpuMillis, memoryBytes };
  }

  private leaseHost(lease: LeaseObject, project: ProjectObject): string {
    return leaseHostname(lease.metadata.name, project);
  }

  private settingsOf(project: ProjectObject): ProjectSettings {
    return (this.options.projectSettings ?? BUILT_IN_PROJECT_SETTINGS).forPool(project.spec);
  }

  /** Merges fields into the current status (a renewal's expiresAt is never overwritten by a stale read). */
  private patchStatus(
    lease: LeaseObject,
    fields: Partial<LeaseStatus>,
    readiness?: Readiness,
  ): Promise<LeaseObject | undefined> {
    const now = new Date(this.now());
    return this.options.store.mutateStatus('Lease', lease.metadata.name, (current) => ({
      ...current.status,
      ...fields,
      observedGeneration: current.metadata.generation ?? 0,
      ...(readiness ? { conditions: setReadiness(current.status?.conditions, readiness, now) } : {}),
    }));
  }
}

function endMessage(reason: EndReason): string {
  switch (reason) {
    case 'Expired':
      return 'the lease reached its expiry; its container was removed';
    case 'Released':
      return 'the lease was released (deleted); its container was removed';
    case 'IdleTimeout':
      return 'no request within its idle timeout; its container was removed';
    case 'Failed':
      return 'the lease failed; its container was removed';
  }
}

function sortedEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Which Secret each variable of a lease's container comes from: the lease's own env wins over its project's. */
function secretRefsOf(
  projectRefs: Record<string, SecretKeyRef> | undefined,
  leaseEnv: Record<string, EnvValue>,
): Record<string, SecretKeyRef> {
  const refs = { ...projectRefs, ...secretEnvOf(leaseEnv) };
  for (const variable of Object.keys(plainEnv(leaseEnv))) delete refs[variable];
  return refs;
}
