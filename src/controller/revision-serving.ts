import type { ProjectObject, ProjectSpec, RevisionObject } from '../model/types.js';
import type { ProjectSettings, ProjectSettingsResolver } from '../model/project-settings.js';
import type { DeployRequest, ProxyManagement, ServiceInfo } from '../proxy/management.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { withSecretEnv } from '../secrets/secret-env.js';
import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/error-message.js';
import type { InstanceLifecycle } from './instance-lifecycle.js';
import { containerSpecHash, routeFor } from './project-route.js';
import { ROUTING_FIELDS } from './revisions.js';
import { decideInstances, type ScalingDecision } from './scaling.js';
import { projectOfRevisionService, revisionService, type RevisionShare } from './traffic.js';

// Serves the revisions spec.traffic sends requests to (or a tag reaches) other than the
// one the project runs now, which the project reconciler serves on the project's own
// route. Each such revision gets a proxy service of its own (`revision.<project>.<n>`,
// never a project's name) and instances of its own (role `revision`, labelled with the
// revision), scaled on its own service's activity like a project: to zero when idle, a
// cold start when a request is held. Called under the project's lock by its reconcile;
// the containers and the proxy's services are the only state, so a restart adopts them.

/** How soon a failed start of a revision is tried again. */
const START_RETRY_MS = 5_000;

export interface RevisionServingOptions {
  store: ObjectStore;
  runtime: ContainerRuntime;
  proxy: ProxyManagement;
  lifecycle: InstanceLifecycle;
  projectSettings: ProjectSettingsResolver;
  logger: Logger;
  now: () => number;
  secrets?: SecretBox | undefined;
}

/** One revision to serve: its share of the split and what it runs. */
interface Served {
  share: RevisionShare;
  revision: RevisionObject;
  settings: ProjectSettings;
  service: string;
  containers: ManagedContainer[];
}

/** What follows routing: the scale step (returns when to look again), then the clean-up once the split moved on. */
export interface RevisionSteps {
  scale: () => Promise<number | undefined>;
  dropUnserved: () => Promise<void>;
}

/** Nothing to serve beside the project's own revision, and nothing left from before. */
export const NO_REVISION_STEPS: RevisionSteps = {
  scale: () => Promise.resolve(undefined),
  dropUnserved: () => Promise.resolve(),
};

export class RevisionServing {
  constructor(private readonly options: RevisionServingOptions) {}

  /**
   * Routes every revision of `shares` (not the project's own) on its service with the
   * instances it has, so the project's split never names a missing service; removes the
   * services and instances of revisions no longer in the split. Returns the scale step.
   */
  async route(project: ProjectObject, shares: readonly RevisionShare[], own: string): Promise<RevisionSteps> {
    const name = project.metadata.name;
    const containers = await this.options.runtime.list({ kind: 'Project', name, role: 'revision' });
    const served: Served[] = [];
    for (const share of shares) {
      // One read per share, not a copy of every project's revisions on each reconcile.
      const revision = share.revision === own ? undefined : this.options.store.get('Revision', share.revision);
      if (!revision) continue;
      const settings = this.settingsOf(project, revision);
      const mine = containers.filter((c) => c.revision === share.revision && c.owner.uid === project.metadata.uid);
      served.push({ share, revision, settings, service: revisionService(name, revision), containers: mine });
    }
    await this.releaseTags(name, served);
    const projectRoute = await this.options.proxy.getService(name);
    const routed = await Promise.all(served.map(async (item) => this.deployReady(item, projectRoute)));
    const projectActivity = projectRoute?.activity.lastActivityAt;
    return {
      scale: async () => {
        const next = await Promise.all(routed.map((item) => this.scale(project, item, projectActivity)));
        const times = next.filter((at): at is number => at !== undefined);
        return times.length > 0 ? Math.min(...times) : undefined;
      },
      // Only once the project's route no longer names them.
      dropUnserved: () => this.dropUnserved(name, served, containers),
    };
  }

  /**
   * A tag that moves between revisions moves its hostname: the revision services that
   * lose one let go of it first, so whoever takes it next is not refused.
   */
  private async releaseTags(name: string, served: readonly Served[]): Promise<void> {
    const entitled = new Map(served.map((item) => [item.service, new Set(item.share.hosts)]));
    const services = (await this.options.proxy.listServices()).filter(
      (info) => projectOfRevisionService(info.service) === name,
    );
    for (const info of services) {
      const keep = info.hosts.filter((host) => entitled.get(info.service)?.has(host) ?? false);
      if (keep.length !== info.hosts.length) await this.options.proxy.deploy({ ...requestOf(info), hosts: keep });
    }
  }

  /** A deleted project's revision services and instances go with it. */
  async removeAll(name: string): Promise<void> {
    const containers = await this.options.runtime.list({ kind: 'Project', name, role: 'revision' });
    await this.dropUnserved(name, [], containers);
  }

  /** What a revision runs: its recorded template and image, with the project's routing and scaling of now. */
  private settingsOf(project: ProjectObject, revision: RevisionObject): ProjectSettings {
    // Only the routing and scaling fields are the project's: every other one (readiness
    // included) is the revision's own, absent when it did not declare it.
    const routing = Object.fromEntries(
      Object.entries(project.spec).filter(([field]) => ROUTING_FIELDS.includes(field)),
    );
    const spec = { ...routing, ...revision.spec.template, image: revision.spec.image } as ProjectSpec;
    const declared = this.options.projectSettings.forProject(spec);
    const settings = withSecretEnv(
      { ...declared, image: revision.spec.image },
      this.options.store,
      this.options.secrets,
    );
    // A Secret gone since: the revision runs without it rather than not at all would be wrong; it waits.
    return 'missing' in settings ? { ...declared, image: revision.spec.image } : settings;
  }

  private async dropUnserved(name: string, served: readonly Served[], containers: ManagedContainer[]): Promise<void> {
    const kept = new Set(served.map((item) => item.service));
    const keptRevisions = new Set(served.map((item) => item.share.revision));
    const services = (await this.options.proxy.listServices()).filter(
      (info) => projectOfRevisionService(info.service) === name && !kept.has(info.service),
    );
    for (const info of services) await this.options.proxy.remove(info.service);
    const gone = containers.filter((c) => !keptRevisions.has(c.revision ?? ''));
    await Promise.all(gone.map((container) => this.options.lifecycle.remove(container)));
    if (services.length > 0 || gone.length > 0)
      this.options.logger.info(
        { project: name, services: services.map((info) => info.service), removed: gone.length },
        'revisions out of the split: services and instances removed',
      );
  }

  /** Routes the instances that answer now; the others are the scale step's to start or remove. */
  private async deployReady(
    item: Served,
    projectRoute: ServiceInfo | undefined,
  ): Promise<Served & { ready: ManagedContainer[]; info: ServiceInfo | undefined }> {
    const { lifecycle } = this.options;
    const running = item.containers.filter((c) => c.state === 'running');
    const ready: ManagedContainer[] = [];
    for (const container of running) if (await lifecycle.ensureReady(container, item.settings)) ready.push(container);
    const request = this.routeOf(item, ready);
    // A tag of the project's own revision until now comes from the project's route.
    const taken = projectRoute?.hosts.filter((host) => request.hosts.includes(host)) ?? [];
    if (projectRoute && taken.length > 0) {
      const hosts = projectRoute.hosts.filter((host) => !taken.includes(host));
      await this.options.proxy.deployMovingHosts(request, [{ service: projectRoute.service, hosts }]);
    } else await this.options.proxy.deploy(request);
    return { ...item, ready, info: await this.options.proxy.getService(item.service) };
  }

  private routeOf(item: Served, targets: readonly ManagedContainer[]): ReturnType<typeof routeFor> {
    return {
      ...routeFor(item.service, item.settings, targets),
      hosts: item.share.hosts,
      revision: item.share.revision,
    };
  }

  /** Starts what its activity asks for, stops what idles; returns when to look again. */
  private async scale(
    project: ProjectObject,
    item: Served & { ready: ManagedContainer[]; info: ServiceInfo | undefined },
    projectActivity: number | undefined,
  ): Promise<number | undefined> {
    const decision = this.decide(item, projectActivity);
    const { lifecycle, logger } = this.options;
    const spare = item.containers.filter((c) => !item.ready.includes(c));
    const deficit = Math.max(0, decision.desired - item.ready.length);
    const hash = containerSpecHash(item.settings);
    const results = await Promise.allSettled(
      Array.from({ length: deficit }, (_, index) => {
        const candidate = spare[index]?.state === 'exited' ? spare[index] : undefined;
        return lifecycle.start(project, item.settings, hash, candidate, item.share.revision, 'revision');
      }),
    );
    const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = results.filter((result) => result.status === 'rejected');
    for (const result of failed)
      logger.warn(
        { project: project.metadata.name, revision: item.share.revision, err: errorMessage(result.reason) },
        'revision instance did not start',
      );
    const targets = [...item.ready, ...started].slice(0, Math.max(decision.desired, started.length));
    await this.options.proxy.deploy(this.routeOf(item, targets));
    const surplus = item.containers.filter((c) => !targets.some((target) => target.id === c.id));
    await Promise.all(surplus.filter((c) => !started.includes(c)).map((c) => lifecycle.remove(c)));
    if (failed.length > 0) return this.options.now() + START_RETRY_MS;
    return decision.nextCheckAt;
  }

  /** The revision's own activity; a service new to the split borrows the project's, so it starts before its first request. */
  private decide(
    item: Served & { ready: ManagedContainer[]; info: ServiceInfo | undefined },
    projectActivity: number | undefined,
  ): ScalingDecision {
    const { settings, share, info } = item;
    const own = info?.activity;
    const borrowed = own?.lastActivityAt === undefined && share.weight > 0 ? projectActivity : undefined;
    const activity = own ? { ...own, ...(borrowed !== undefined ? { lastActivityAt: borrowed } : {}) } : undefined;
    const readyTimes = item.ready.map((c) => this.options.lifecycle.readyAt(c) ?? 0);
    return decideInstances({
      // A tag alone keeps nothing running: its first request starts it.
      minInstances: share.weight > 0 ? settings.minInstances : 0,
      maxInstances: settings.maxInstances,
      targetConcurrency: settings.targetConcurrency,
      idleTimeoutMs: settings.idleTimeoutMs,
      activity,
      serving: item.ready.length,
      servingSince: readyTimes.length > 0 ? Math.max(...readyTimes) : undefined,
      now: this.options.now(),
    });
  }
}

/** A deploy that puts a service back as the proxy reports it (its split and revision kept). */
function requestOf(info: ServiceInfo): DeployRequest {
  return {
    service: info.service,
    hosts: info.hosts,
    targets: info.targets.map((target) => target.address),
    startupTimeoutMs: info.startupTimeoutMs,
    responseTimeoutMs: info.responseTimeoutMs,
    ...(info.requestTimeoutMs !== undefined ? { requestTimeoutMs: info.requestTimeoutMs } : {}),
    ...(info.targetConcurrency !== undefined ? { targetConcurrency: info.targetConcurrency } : {}),
    ...(info.maxConcurrency !== undefined ? { maxConcurrency: info.maxConcurrency, maxQueued: info.maxQueued } : {}),
    ...(info.h2c ? { h2c: true } : {}),
  };
}
